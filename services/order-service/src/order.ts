import { defineEntity, reject } from '@sagaflow/core';
import type { OrderItem, SagaMode, SchemaTypes } from '@sagaflow/reference-contracts';
import { isWorkflowSaga, sagaIdOf, totalOf } from '@sagaflow/reference-contracts';

/**
 * Why a workflow may not settle this order: only the order's own workflow (the one its
 * `OrderCreated` started) may; another one, started over HTTP with this order's id, may not.
 */
function strangerWorkflow(state: OrderState, orderId: string, sagaId: string): string | undefined {
  if (!isWorkflowSaga(sagaId) || state.status === 'NEW') return undefined;
  const own = sagaIdOf(orderId, state.mode);
  return sagaId === own
    ? undefined
    : `order ${orderId} belongs to saga ${own}: workflow ${sagaId} may not settle it`;
}

export type OrderStatus = 'PENDING' | 'APPROVED' | 'REJECTED';

/** A pending order's rejection; `cancelled` when its saga's compensation was asked for. */
const rejected = (state: OrderState, orderId: string, reason: string, cancelled: boolean) => [
  {
    type: 'OrderRejected' as const,
    payload: { orderId, reason, customerId: state.customerId, cancelled },
  },
];

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
  /**
   * An operator's (or the tracker's) request to compensate the order's choreography: a pending
   * order is rejected as cancelled, which every participant undoes whatever step it reached; an
   * approved order stays approved (its saga completed: nothing is undone).
   */
  Cancel: { reason: string };
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
      Approve: (state, _command, { entityId, sagaId }) => {
        const stranger = strangerWorkflow(state, entityId, sagaId);
        if (stranger !== undefined) return reject(stranger);
        switch (state.status) {
          case 'NEW':
            return reject(`order ${entityId} does not exist`);
          case 'REJECTED':
            return reject(`order ${entityId} was rejected: ${state.rejectionReason ?? ''}`);
          case 'APPROVED':
            return [];
          case 'PENDING':
            return [
              {
                type: 'OrderApproved',
                payload: {
                  orderId: entityId,
                  customerId: state.customerId,
                  items: [...state.items],
                },
              },
            ];
        }
      },
      Reject: (state, { reason }, { entityId, sagaId }) => {
        const stranger = strangerWorkflow(state, entityId, sagaId);
        if (stranger !== undefined) return reject(stranger);
        return state.status === 'PENDING' ? rejected(state, entityId, reason, false) : [];
      },
      Cancel: (state, { reason }, { entityId }) =>
        state.status === 'PENDING' && state.mode === 'CHOREOGRAPHY'
          ? rejected(state, entityId, reason, true)
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
