import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  controlSchemasDir,
  defineCommandEndpoint,
  defineSaga,
  defineWorkflow,
  done,
  eventsTopic,
  refuse,
  sagaControlTopic,
  workflowIdOf,
  type WorkflowReply,
  type WorkflowTrigger,
} from '@sagaflow/core';
import { customerEntity } from './payment.js';
import { orderEntity } from './orders.js';
import { referenceNames, type ReferenceNames } from './names.js';
import { reservationEntity, stockEntity } from './inventory.js';
import { shipmentEntity } from './shipping.js';
import type { OrderRequest } from './types.js';

/** The reference schemas and sagaflow's own: every service's catalog. */
export const referenceSchemaDirs = [
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../schemas'),
  controlSchemasDir,
];

/** The choreography saga's type, as listed in the admin. */
export const CHOREOGRAPHY_SAGA = 'order-placement';
/** The orchestrated workflow's type. */
export const ORDER_WORKFLOW = 'order-fulfillment';

/** What a workflow step's read of the customer's credit returned. */
export interface CreditView {
  readonly customerId: string;
  readonly known: boolean;
  readonly creditLimit: number;
  readonly creditReserved: number;
}

/** Options of {@link referenceDomain}. */
export interface ReferenceDomainOptions {
  /** Prefix of every name (see {@link referenceNames}). @default '' */
  readonly namespace?: string;
  /**
   * Reads the customer's credit view, for the workflow's first step. @default a view saying
   * nothing is known (the payment step decides in any case)
   */
  readonly readCredit?: (customerId: string) => Promise<CreditView>;
  /** Time a workflow step waits for its answer before it tries again. @default 60000 */
  readonly stepTimeoutMs?: number;
  /** Time a choreography step may take before the saga is marked stuck. @default 120000 */
  readonly sagaDeadlineMs?: number;
}

const reasonOf = (reply: WorkflowReply) => String(reply.payload['reason']);

/** The reference system's entities, saga, workflow and command endpoints. */
export function referenceDomain(options: ReferenceDomainOptions = {}) {
  const names: ReferenceNames = referenceNames(options.namespace);
  const order = orderEntity(names.order);
  const stock = stockEntity(names.stock);
  const reservation = reservationEntity(names.reservation);
  const customer = customerEntity(names.customer);
  const shipment = shipmentEntity(names.shipment);
  const readCredit =
    options.readCredit ??
    ((customerId: string) =>
      Promise.resolve({ customerId, known: false, creditLimit: 0, creditReserved: 0 }));
  const deadlineMs = options.sagaDeadlineMs ?? 120_000;

  const saga = defineSaga({
    type: CHOREOGRAPHY_SAGA,
    startsWith: 'OrderCreated',
    topics: [
      eventsTopic(order.type),
      eventsTopic(reservation.type),
      eventsTopic(customer.type),
      eventsTopic(shipment.type),
      sagaControlTopic,
    ],
    businessKey: 'orderId',
    steps: [
      {
        name: 'reserve-stock',
        participant: names.service('inventory'),
        on: ['OrderCreated'],
        success: ['StockReserved'],
        failure: ['StockReservationFailed'],
        compensation: ['StockReleased'],
        deadlineMs,
      },
      {
        name: 'authorize-payment',
        participant: names.service('payment'),
        on: ['StockReserved'],
        success: ['PaymentAuthorized'],
        failure: ['PaymentFailed'],
        compensation: ['PaymentReleased'],
        deadlineMs,
      },
      {
        name: 'approve-order',
        participant: names.service('order'),
        on: ['PaymentAuthorized'],
        success: ['OrderApproved'],
        deadlineMs,
      },
      {
        name: 'schedule-shipment',
        participant: names.service('shipping'),
        on: ['OrderApproved'],
        success: ['ShipmentScheduled'],
        deadlineMs,
      },
    ],
    outcomes: { completed: ['ShipmentScheduled'], compensated: ['OrderRejected'] },
  });

  const step = { timeoutMs: options.stepTimeoutMs ?? 60_000, retry: { maxAttempts: 5 } };
  const workflow = defineWorkflow<OrderRequest>({
    type: ORDER_WORKFLOW,
    businessKey: (input) => input.orderId,
    steps: [
      {
        name: 'reserve-stock',
        entity: reservation.type,
        // The credit seen when the order started, kept with the workflow and shown in the admin.
        read: ({ input }) => readCredit(input.customerId),
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
      {
        name: 'authorize-payment',
        entity: customer.type,
        command: ({ input }) => ({
          entityId: input.customerId,
          type: 'AuthorizePayment',
          payload: { orderId: input.orderId, customerId: input.customerId, amount: input.total },
        }),
        replies: { PaymentAuthorized: done(), PaymentFailed: (r) => refuse(reasonOf(r)) },
        compensate: ({ input }) => ({
          entityId: input.customerId,
          type: 'ReleasePayment',
          payload: { orderId: input.orderId, customerId: input.customerId },
        }),
        ...step,
      },
      {
        name: 'approve-order',
        entity: order.type,
        command: ({ input }) => ({
          entityId: input.orderId,
          type: 'ApproveOrder',
          payload: { orderId: input.orderId },
        }),
        replies: { OrderApproved: done() },
        ...step,
      },
      {
        name: 'schedule-shipment',
        entity: shipment.type,
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

  /** Starts the workflow of each order placed in orchestration mode (keyed by order id). */
  const trigger: WorkflowTrigger = {
    topic: eventsTopic(order.type),
    eventType: 'OrderCreated',
    workflow: ORDER_WORKFLOW,
    when: (event) => event.payload['mode'] === 'ORCHESTRATION',
    key: (event) => String(event.payload['orderId']),
    input: (event) => {
      const { orderId, customerId, items, total } = event.payload as unknown as OrderRequest;
      return { orderId, customerId, items, total };
    },
  };

  const endpoints = {
    order: defineCommandEndpoint({
      entity: order,
      commands: { ApproveOrder: 'Approve', RejectOrder: 'Reject' },
    }),
    inventory: defineCommandEndpoint({
      entity: reservation,
      commands: { ReserveStock: 'Request', ReleaseStock: 'Release' },
    }),
    payment: defineCommandEndpoint({
      entity: customer,
      commands: { AuthorizePayment: 'Authorize', ReleasePayment: 'Release' },
    }),
    shipping: defineCommandEndpoint({
      entity: shipment,
      commands: { ScheduleShipment: 'Schedule' },
    }),
  };

  return {
    names,
    order,
    stock,
    reservation,
    customer,
    shipment,
    saga,
    workflow,
    workflowType: ORDER_WORKFLOW,
    trigger,
    endpoints,
    /** The saga id of an order: its workflow's id in orchestration mode. */
    sagaIdOf: (orderId: string, mode: 'CHOREOGRAPHY' | 'ORCHESTRATION') =>
      mode === 'ORCHESTRATION' ? workflowIdOf(ORDER_WORKFLOW, orderId) : `saga-${orderId}`,
  };
}
export type ReferenceDomain = ReturnType<typeof referenceDomain>;
