import { defineEntity } from '@sagaflow/core';
import type { SchemaTypes } from '@sagaflow/reference-contracts';

/** What became of one order's payment at a customer: final once decided. */
export interface CustomerOrder {
  readonly amount: number;
  readonly status: 'AUTHORIZED' | 'FAILED' | 'RELEASED';
  readonly reason?: string;
}

export interface CustomerState {
  /** A customer exists once its credit limit was set. */
  readonly known: boolean;
  readonly creditLimit: number;
  /** The sum of the authorized orders' amounts. */
  readonly creditReserved: number;
  readonly orders: Readonly<Record<string, CustomerOrder>>;
}

export const customerEntity = (type: string) =>
  defineEntity<
    CustomerState,
    {
      SetCredit: { creditLimit: number };
      /** `AuthorizePayment`, or the payment processor in a choreography. */
      Authorize: SchemaTypes['AuthorizePayment'];
      /** `ReleasePayment` (compensation). */
      Release: SchemaTypes['ReleasePayment'];
    },
    Pick<
      SchemaTypes,
      'CustomerCreditSet' | 'PaymentAuthorized' | 'PaymentFailed' | 'PaymentReleased'
    >
  >({
    type,
    initialState: () => ({ known: false, creditLimit: 0, creditReserved: 0, orders: {} }),
    commands: {
      SetCredit: (_state, { creditLimit }, { entityId }) => [
        { type: 'CustomerCreditSet', payload: { customerId: entityId, creditLimit } },
      ],
      Authorize: (state, { orderId, amount }, { entityId }) => {
        const earlier = state.orders[orderId];
        const failed = (reason: string) => [
          {
            type: 'PaymentFailed' as const,
            payload: { orderId, customerId: entityId, amount, reason, items: [] },
          },
        ];
        // A repeated request gets the same answer again; the decision stands.
        if (earlier?.status === 'AUTHORIZED')
          return [
            {
              type: 'PaymentAuthorized',
              payload: { orderId, customerId: entityId, amount: earlier.amount, items: [] },
            },
          ];
        if (earlier !== undefined) return failed(earlier.reason ?? 'the payment was released');
        // Reasons are shown by the admin and kept in timelines: never the customer's id.
        if (!state.known) return failed('unknown customer');
        // A negative amount would pass the credit check and lower the credit reserved.
        if (!(amount >= 0)) return failed(`the amount must be at least 0 (got ${amount})`);
        if (state.creditReserved + amount > state.creditLimit) {
          return failed(
            `credit limit exceeded: ${amount} asked, ${state.creditLimit - state.creditReserved} of ${state.creditLimit} left`,
          );
        }
        return [
          {
            type: 'PaymentAuthorized',
            payload: { orderId, customerId: entityId, amount, items: [] },
          },
        ];
      },
      Release: (state, { orderId }, { entityId }) => {
        const earlier = state.orders[orderId];
        return earlier !== undefined && earlier.status !== 'AUTHORIZED'
          ? []
          : [
              {
                type: 'PaymentReleased',
                payload: { orderId, customerId: entityId, amount: earlier?.amount ?? 0, items: [] },
              },
            ];
      },
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'CustomerCreditSet':
          return { ...state, known: true, creditLimit: event.payload.creditLimit };
        case 'PaymentAuthorized': {
          const { orderId, amount } = event.payload;
          if (state.orders[orderId] !== undefined) return state;
          return {
            ...state,
            creditReserved: state.creditReserved + amount,
            orders: { ...state.orders, [orderId]: { amount, status: 'AUTHORIZED' } },
          };
        }
        case 'PaymentFailed': {
          const { orderId, amount, reason } = event.payload;
          if (state.orders[orderId] !== undefined) return state;
          return {
            ...state,
            orders: { ...state.orders, [orderId]: { amount, status: 'FAILED', reason } },
          };
        }
        case 'PaymentReleased': {
          const { orderId, amount } = event.payload;
          const held = state.orders[orderId]?.status === 'AUTHORIZED';
          return {
            ...state,
            creditReserved: state.creditReserved - (held ? amount : 0),
            orders: { ...state.orders, [orderId]: { amount, status: 'RELEASED' } },
          };
        }
      }
    },
  });
export type CustomerEntity = ReturnType<typeof customerEntity>;
