import {
  defineWorkflow,
  done,
  eventsTopic,
  goTo,
  refuse,
  SagaflowError,
  workflowIdOf,
  type WorkflowReply,
  type WorkflowTrigger,
} from '@sagaflow/core';
import { readCredit, type CreditView } from './credit-view.js';
import type { ReferenceNames } from './names.js';
import { totalOf, type OrderRequest } from './types.js';

/** The orchestrated workflow's type. */
export const ORDER_WORKFLOW = 'order-fulfillment';

/** Options of {@link orderWorkflow}. */
export interface OrderWorkflowOptions {
  /**
   * Reads the customer's credit, for the workflow's first step. @default the orchestrator's
   * `customer-credit` view (see `customerCreditView`), read locally
   */
  readonly readCredit?: (customerId: string) => Promise<CreditView>;
  /** Time a workflow step waits for its answer before it tries again. @default 60000 */
  readonly stepTimeoutMs?: number;
  /**
   * Orders of at least this total (cents) wait for a person's approval once their stock and
   * credit are held (`APPROVAL_THRESHOLD`). @default {@link DEFAULT_APPROVAL_THRESHOLD}
   */
  readonly approvalThreshold?: number;
  /**
   * How long an order waits for approval before it is rejected, `approval timed out`
   * (`APPROVAL_TIMEOUT_MS`). @default {@link DEFAULT_APPROVAL_TIMEOUT_MS}
   */
  readonly approvalTimeoutMs?: number;
}

/** Orders of at least 10,000.00 (in cents) wait for approval, unless configured otherwise. */
export const DEFAULT_APPROVAL_THRESHOLD = 1_000_000;
/** An order waits a day for approval, unless configured otherwise. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 86_400_000;

/** The approval signal's payload (the `ApprovalDecision` schema). */
interface ApprovalDecision {
  readonly approved: boolean;
  readonly by: string;
}

const reasonOf = (reply: WorkflowReply) => String(reply.payload['reason']);

const refused = (field: string, message: string) =>
  new SagaflowError('INVALID_ARGUMENT', `input.${field} ${message}`, {
    context: { field: `input.${field}` },
  });

/**
 * What the input schema (`OrderFulfillmentInput`) cannot say: ids that are not empty, at least
 * one item, quantities of at least 1, prices of at least 0, and a total that is the items' sum.
 */
export function checkOrderInput(raw: unknown): OrderRequest {
  const input = raw as OrderRequest;
  for (const field of ['orderId', 'customerId'] as const) {
    if (input[field].trim() === '') throw refused(field, 'must not be empty');
  }
  if (input.items.length === 0) throw refused('items', 'must hold at least one item');
  input.items.forEach((item, i) => {
    if (item.sku.trim() === '') throw refused(`items.${i}.sku`, 'must not be empty');
    if (item.quantity < 1) throw refused(`items.${i}.quantity`, 'must be at least 1');
    if (item.unitPrice < 0) throw refused(`items.${i}.unitPrice`, 'must be at least 0');
  });
  const sum = totalOf(input.items);
  if (!Number.isSafeInteger(sum) || input.total !== sum) {
    throw refused('total', `must be the sum of the items (${sum})`);
  }
  return { orderId: input.orderId, customerId: input.customerId, items: input.items, total: sum };
}

/**
 * The order fulfilment as an orchestrated workflow: the commands it sends to each participant's
 * command topic, the replies it waits for, and the compensations. An order of at least the
 * approval threshold waits, once its stock and credit are held, for a person's decision (the
 * `approval` signal, sent by the order service): approved, it goes on; refused or not decided in
 * time, its stock and credit are released and the order rejected.
 */
export function orderWorkflow(names: ReferenceNames, options: OrderWorkflowOptions = {}) {
  const step = { timeoutMs: options.stepTimeoutMs ?? 60_000, retry: { maxAttempts: 5 } };
  const threshold = options.approvalThreshold ?? DEFAULT_APPROVAL_THRESHOLD;
  return defineWorkflow<OrderRequest>({
    type: ORDER_WORKFLOW,
    inputSchema: 'OrderFulfillmentInput',
    input: checkOrderInput,
    businessKey: (input) => input.orderId,
    signals: { approval: 'ApprovalDecision' },
    steps: [
      // #region reserve-stock-step
      {
        name: 'reserve-stock',
        entity: names.reservation,
        // The credit seen when the order started, kept with the workflow and shown in the admin:
        // the orchestrator's own view of the payment service's events.
        read: ({ input }, views) =>
          options.readCredit?.(input.customerId) ?? readCredit(views, input.customerId),
        command: ({ input }) => ({
          entityId: input.orderId,
          type: 'ReserveStock',
          payload: { ...input },
        }),
        replies: { StockReserved: done(), StockReservationFailed: (r) => refuse(reasonOf(r)) },
        compensate: ({ input }) => ({
          entityId: input.orderId,
          type: 'ReleaseStock',
          payload: { orderId: input.orderId, reason: 'the order workflow compensates' },
        }),
        ...step,
      },
      // #endregion
      // #region authorize-payment-step
      {
        name: 'authorize-payment',
        entity: names.customer,
        command: ({ input }) => ({
          entityId: input.customerId,
          type: 'AuthorizePayment',
          payload: { orderId: input.orderId, customerId: input.customerId, amount: input.total },
        }),
        replies: {
          // A large order waits for approval; any other goes on to be approved.
          PaymentAuthorized: (_r, { input }) =>
            input.total >= threshold ? done() : goTo('approve-order'),
          PaymentFailed: (r) => refuse(reasonOf(r)),
        },
        compensate: ({ input }) => ({
          entityId: input.customerId,
          type: 'ReleasePayment',
          payload: { orderId: input.orderId, customerId: input.customerId },
        }),
        ...step,
      },
      // #endregion
      {
        name: 'request-approval',
        entity: names.order,
        command: ({ input }) => ({
          entityId: input.orderId,
          type: 'RequestOrderApproval',
          payload: { orderId: input.orderId },
        }),
        replies: { OrderApprovalRequested: done() },
        ...step,
      },
      // #region await-approval-step
      {
        name: 'await-approval',
        signal: 'approval',
        timeoutMs: options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
        onSignal: (payload) => {
          const { approved, by } = payload as ApprovalDecision;
          return approved ? done({ approvedBy: by }) : refuse(`refused by ${by}`);
        },
        onTimeout: refuse('approval timed out'),
      },
      // #endregion
      {
        name: 'approve-order',
        entity: names.order,
        command: ({ input }) => ({
          entityId: input.orderId,
          type: 'ApproveOrder',
          payload: { orderId: input.orderId },
        }),
        replies: { OrderApproved: done() },
        // An approved order is not undone: once approval is asked, the workflow goes forward
        // only (a cancel is refused; an approval or shipment without an answer fails it).
        pivot: true,
        ...step,
      },
      {
        name: 'schedule-shipment',
        entity: names.shipment,
        command: ({ input }) => ({
          entityId: input.orderId,
          type: 'ScheduleShipment',
          payload: { orderId: input.orderId },
        }),
        replies: { ShipmentScheduled: done() },
        ...step,
      },
    ],
  });
}

/** Starts the workflow of each order placed in orchestration mode (keyed by order id). */
export function orderWorkflowTrigger(names: ReferenceNames): WorkflowTrigger {
  return {
    topic: eventsTopic(names.order),
    eventType: 'OrderCreated',
    workflow: ORDER_WORKFLOW,
    when: (event) => event.payload['mode'] === 'ORCHESTRATION',
    key: (event) => String(event.payload['orderId']),
    input: (event) => {
      const { orderId, customerId, items, total } = event.payload as unknown as OrderRequest;
      return { orderId, customerId, items, total };
    },
  };
}

/** The saga id of an order: its workflow's id in orchestration mode. */
export const sagaIdOf = (orderId: string, mode: 'CHOREOGRAPHY' | 'ORCHESTRATION') =>
  mode === 'ORCHESTRATION' ? workflowIdOf(ORDER_WORKFLOW, orderId) : `saga-${orderId}`;
