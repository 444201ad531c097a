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

/**
 * `AWAITING_APPROVAL`: a large orchestrated order whose stock and credit are held waits for a
 * person's decision (`POST /orders/:id/approval`); its workflow then approves or rejects it.
 */
export type OrderStatus = 'PENDING' | 'AWAITING_APPROVAL' | 'APPROVED' | 'REJECTED';

/** The order approval signal's name, as the order workflow declares it. */
export const APPROVAL_SIGNAL = 'approval';

/** A person's decision on an order that waits for approval. */
export interface ApprovalDecisionState {
  readonly approved: boolean;
  readonly by: string;
}

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
  /** The decision taken on an order that waited for approval (one only). */
  readonly approval?: ApprovalDecisionState;
}

export type OrderCommands = {
  Place: { customerId: string; items: readonly OrderItem[]; mode: SagaMode };
  /** `ApproveOrder` from the orchestrator, or the order processor in a choreography. */
  Approve: { orderId?: string };
  Reject: { orderId?: string; reason: string };
  /** `RequestOrderApproval` from the orchestrator: the order waits for a person's decision. */
  RequestApproval: { orderId?: string };
  /** A person's decision on an order that waits for approval (`POST /orders/:id/approval`). */
  Decide: { approved: boolean; by: string };
  /**
   * An operator's (or the tracker's) request to compensate the order's choreography: a pending
   * order is rejected as cancelled, which every participant undoes whatever step it reached; an
   * approved order stays approved (its saga completed: nothing is undone).
   */
  Cancel: { reason: string };
};

/** Whether the order may still be approved or rejected: pending, or waiting for approval. */
const open = (state: OrderState) =>
  state.status === 'PENDING' || state.status === 'AWAITING_APPROVAL';

/**
 * An order: placed `PENDING` (a large orchestrated one may then wait in `AWAITING_APPROVAL`),
 * then `APPROVED` or `REJECTED` for good. A decision on an order that waits is sent to its
 * workflow as the approval signal, through the outbox of the commit that records it
 * (`workflowType`: the workflow entity's type), so it is sent once, and surely.
 */
export const orderEntity = (type: string, workflowType: string) =>
  defineEntity<
    OrderState,
    OrderCommands,
    Pick<
      SchemaTypes,
      | 'OrderCreated'
      | 'OrderApproved'
      | 'OrderRejected'
      | 'OrderApprovalRequested'
      | 'OrderApprovalDecided'
    >
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
          case 'AWAITING_APPROVAL':
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
        return open(state) ? rejected(state, entityId, reason, false) : [];
      },
      RequestApproval: (state, _command, { entityId, sagaId }) => {
        const stranger = strangerWorkflow(state, entityId, sagaId);
        if (stranger !== undefined) return reject(stranger);
        if (state.status === 'AWAITING_APPROVAL') return [];
        if (state.status !== 'PENDING') {
          return reject(`order ${entityId} is ${state.status}: it cannot wait for approval`);
        }
        return [
          {
            type: 'OrderApprovalRequested',
            payload: { orderId: entityId, customerId: state.customerId, total: state.total },
          },
        ];
      },
      // #region decide-signals-workflow
      Decide: (state, { approved, by }, { entityId }) => {
        if (state.approval !== undefined) {
          return reject(
            `order ${entityId} was ${state.approval.approved ? 'approved' : 'refused'} already, by ${state.approval.by}`,
          );
        }
        if (state.status !== 'AWAITING_APPROVAL') {
          return reject(
            `order ${entityId} is ${state.status === 'NEW' ? 'not placed' : state.status}: it does not wait for approval`,
          );
        }
        const workflowId = sagaIdOf(entityId, state.mode);
        return [
          { type: 'OrderApprovalDecided', payload: { orderId: entityId, approved, by } },
          {
            type: 'SignalWorkflow',
            payload: {
              name: APPROVAL_SIGNAL,
              payload: JSON.stringify({ approved, by }),
              requestedBy: by,
              key: `order-approval-${entityId}`,
            },
            command: {
              commandId: `order-approval-${entityId}`,
              entityType: workflowType,
              entityId: workflowId,
            },
          },
        ];
      },
      // #endregion
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
        case 'OrderApprovalRequested':
          return { ...state, status: 'AWAITING_APPROVAL' };
        case 'OrderApprovalDecided': {
          const { approved, by } = event.payload;
          return { ...state, approval: { approved, by } };
        }
        case 'OrderRejected':
          return { ...state, status: 'REJECTED', rejectionReason: event.payload.reason };
      }
    },
  });
export type OrderEntity = ReturnType<typeof orderEntity>;
