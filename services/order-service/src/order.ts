import { defineEntity, reject } from '@sagaflow/core';
import type { OrderItem, SagaMode, SchemaTypes } from '@sagaflow/reference-contracts';
import { totalOf } from '@sagaflow/reference-contracts';

export type OrderStatus = 'PENDING' | 'APPROVED' | 'REJECTED';

export interface OrderState {
  readonly status: 'NEW' | OrderStatus;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly total: number;
  readonly mode: SagaMode;
  readonly rejectionReason?: string;
}

export type OrderCommands = {
  Place: { customerId: string; items: readonly OrderItem[]; mode: SagaMode };
  /** `ApproveOrder` from the orchestrator, or the order processor in a choreography. */
  Approve: { orderId?: string };
  Reject: { orderId?: string; reason: string };
};

/** An order: placed `PENDING`, then `APPROVED` or `REJECTED` for good. */
export const orderEntity = (type: string) =>
  defineEntity<
    OrderState,
    OrderCommands,
    Pick<SchemaTypes, 'OrderCreated' | 'OrderApproved' | 'OrderRejected'>
  >({
    type,
    initialState: () => ({
      status: 'NEW',
      customerId: '',
      items: [],
      total: 0,
      mode: 'CHOREOGRAPHY',
    }),
    commands: {
      Place: (state, { customerId, items, mode }, { entityId }) =>
        state.status !== 'NEW'
          ? reject(`order ${entityId} exists already`)
          : [
              {
                type: 'OrderCreated',
                payload: { orderId: entityId, customerId, items, total: totalOf(items), mode },
              },
            ],
      Approve: (state, _command, { entityId }) => {
        switch (state.status) {
          case 'NEW':
            return reject(`order ${entityId} does not exist`);
          case 'REJECTED':
            return reject(`order ${entityId} was rejected: ${state.rejectionReason ?? ''}`);
          case 'APPROVED':
            return [];
          case 'PENDING':
            return [{ type: 'OrderApproved', payload: { orderId: entityId } }];
        }
      },
      Reject: (state, { reason }, { entityId }) =>
        state.status === 'PENDING'
          ? [{ type: 'OrderRejected', payload: { orderId: entityId, reason } }]
          : [],
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'OrderCreated': {
          const { customerId, items, total, mode } = event.payload;
          return { status: 'PENDING', customerId, items, total, mode };
        }
        case 'OrderApproved':
          return { ...state, status: 'APPROVED' };
        case 'OrderRejected':
          return { ...state, status: 'REJECTED', rejectionReason: event.payload.reason };
      }
    },
  });
export type OrderEntity = ReturnType<typeof orderEntity>;
