import { defineEntity, StateChange } from '@sagaflow/core';
import type { SchemaTypes } from '@sagaflow/reference-contracts';

/** An order's authorization that is still open at a customer (neither released nor settled). */
export interface CustomerOrder {
  readonly amount: number;
  readonly status: 'AUTHORIZED';
}

/**
 * A customer's credit. Its state holds only what is still open: the authorizations of orders not
 * decided yet, which leave it when released (the order cancelled) or settled (the order approved:
 * the amount stays reserved; settled in batches, see `paymentSettler`). A refused order never
 * enters it. That an order is decided once, and never authorized after it was released, is kept
 * by causation keys: a command's own on the command topic (one per workflow step), and
 * `authorize:<orderId>` from the payment processor, which a release takes when it comes first.
 */
export interface CustomerState {
  /** A customer exists once its credit limit was set. */
  readonly known: boolean;
  readonly creditLimit: number;
  /** The sum of the authorized orders' amounts, settled or not. */
  readonly creditReserved: number;
  /** Open authorizations, by order id. */
  readonly orders: Readonly<Record<string, CustomerOrder>>;
}

/** The open authorizations only (a state of an earlier release also kept the decided orders). */
const openOrders = (orders: CustomerState['orders'], without?: string) =>
  Object.fromEntries(
    Object.entries(orders).filter(([id, o]) => o.status === 'AUTHORIZED' && id !== without),
  ) as CustomerState['orders'];

export const customerEntity = (type: string) =>
  defineEntity<
    CustomerState,
    {
      SetCredit: { creditLimit: number };
      /** `AuthorizePayment`, or the payment processor in a choreography. */
      Authorize: SchemaTypes['AuthorizePayment'];
      /** `ReleasePayment` (compensation). */
      Release: SchemaTypes['ReleasePayment'];
      /** Approved orders' authorizations are final (orders without one here are skipped). */
      Settle: { orderIds: readonly string[] };
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
        // A decision of an earlier release, kept in the state then.
        if (earlier !== undefined) return failed('the payment was released');
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
      // Released whether or not it was authorized: a release that comes first is recorded (and
      // answers its command), and its causation key refuses the authorization after it.
      Release: (state, { orderId }, { entityId }) => {
        const earlier = state.orders[orderId];
        return [
          {
            type: 'PaymentReleased',
            payload: {
              orderId,
              customerId: entityId,
              amount: earlier?.status === 'AUTHORIZED' ? earlier.amount : 0,
              items: [],
            },
          },
        ];
      },
      // A silent change (a commit without events: nothing is published): the authorizations
      // leave the state, their amounts stay reserved.
      Settle: (state, { orderIds }) => {
        const settling = new Set(orderIds);
        const open = Object.entries(state.orders);
        const orders = Object.fromEntries(open.filter(([orderId]) => !settling.has(orderId)));
        return Object.keys(orders).length === open.length
          ? []
          : new StateChange({ ...state, orders }, []);
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
            orders: { ...openOrders(state.orders), [orderId]: { amount, status: 'AUTHORIZED' } },
          };
        }
        case 'PaymentFailed':
          return { ...state, orders: openOrders(state.orders) };
        case 'PaymentReleased': {
          const { orderId, amount } = event.payload;
          const held = state.orders[orderId]?.status === 'AUTHORIZED';
          return {
            ...state,
            creditReserved: state.creditReserved - (held ? amount : 0),
            orders: openOrders(state.orders, orderId),
          };
        }
      }
    },
  });
export type CustomerEntity = ReturnType<typeof customerEntity>;
