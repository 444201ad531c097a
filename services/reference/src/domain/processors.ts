import {
  defineProcessor,
  eventsTopic,
  sagaControlTopic,
  type ExecuteOptions,
  type ProcessorContext,
  type SagaCompensationRequested,
  type WorkflowEvents,
} from '@sagaflow/core';
import type { ReferenceDomain } from './domain.js';
import { quantitiesBySku, type OrderRequest, type SchemaTypes } from './types.js';

type Payloads = SchemaTypes &
  Pick<WorkflowEvents, 'WorkflowCompensated' | 'WorkflowFailed'> & {
    SagaCompensationRequested: SagaCompensationRequested;
  };

/** Saga ids of orchestrated workflows: the choreography's processors leave their events alone. */
export const isWorkflowSaga = (sagaId: string) => /^wf-[0-9a-f]{32}$/.test(sagaId);

/**
 * Reserves an order's items SKU by SKU (in SKU order) and records the decision on the order's
 * reservation: confirmed when every SKU holds its quantity, refused (and the holds undone) when
 * one is short. Safe to run again and concurrently for the same order: holds are idempotent per
 * order and a refused or released order is closed at each SKU, so every run ends on the same
 * holds; a repeated request gets the decision again, as the answer to its own command.
 */
export async function reserveOrder(
  domain: ReferenceDomain,
  ctx: ProcessorContext,
  order: OrderRequest,
  answer?: ExecuteOptions,
): Promise<void> {
  const { stock, reservation } = domain;
  const { orderId } = order;
  const current = await ctx.load(reservation, orderId);
  if (current.state.status === 'FAILED' || current.state.status === 'RESERVED') {
    const decided =
      current.state.status === 'RESERVED'
        ? await ctx.execute(reservation, orderId, 'Confirm', { ...order }, answer)
        : await ctx.execute(reservation, orderId, 'Refuse', { orderId, reason: '' }, answer);
    if (decided.status === 'rejected') throw new Error(decided.rejection.reason);
    return;
  }
  const held: string[] = [];
  let shortReason: string | undefined;
  for (const [sku, quantity] of quantitiesBySku(order.items)) {
    const result = await ctx.execute(stock, sku, 'Hold', { orderId, quantity });
    if (result.status === 'rejected') throw new Error(result.rejection.reason);
    if (result.state.holds[orderId] !== undefined) {
      held.push(sku);
      continue;
    }
    shortReason = result.state.closed[orderId] ?? `${sku} holds nothing for ${orderId}`;
    break;
  }
  const decided =
    shortReason === undefined
      ? await ctx.execute(reservation, orderId, 'Confirm', { ...order }, answer)
      : await ctx.execute(reservation, orderId, 'Refuse', { orderId, reason: shortReason }, answer);
  if (decided.status === 'rejected') throw new Error(decided.rejection.reason);
  // Refused, or released meanwhile: nothing of this order stays held.
  if (decided.state.status !== 'RESERVED') await unholdAll(domain, ctx, orderId, held);
}

async function unholdAll(
  { stock }: ReferenceDomain,
  ctx: ProcessorContext,
  orderId: string,
  skus: Iterable<string>,
) {
  for (const sku of skus) await ctx.execute(stock, sku, 'Unhold', { orderId });
}

/** Every processor of the reference system, by the service that runs it. */
export function referenceProcessors(domain: ReferenceDomain) {
  const { names, order, reservation, customer, shipment, workflowType } = domain;
  const choreography = (envelope: { sagaId: string }) => !isWorkflowSaga(envelope.sagaId);

  const inventory = defineProcessor<Payloads>({
    name: 'inventory',
    topics: [
      eventsTopic(order.type),
      eventsTopic(customer.type),
      eventsTopic(reservation.type),
      sagaControlTopic,
    ],
    // Requests and releases of reservations come from both styles; the rest from choreographies.
    filter: (e) =>
      e.type === 'StockReservationRequested' || e.type === 'StockReleased' || choreography(e),
    handlers: {
      OrderCreated: ({ payload }, ctx) => reserveOrder(domain, ctx, payload),
      StockReservationRequested: (event, ctx) =>
        reserveOrder(domain, ctx, event.payload, { causationId: event.causationId }),
      // Compensation: the payment was refused.
      PaymentFailed: async ({ payload }, ctx) => {
        await ctx.execute(reservation, payload.orderId, 'Release', {
          orderId: payload.orderId,
          reason: payload.reason,
        });
      },
      // An operator asked to compensate the saga.
      SagaCompensationRequested: async ({ payload }, ctx) => {
        await ctx.execute(reservation, payload.businessKey, 'Release', {
          orderId: payload.businessKey,
          reason: `compensation requested: ${payload.reason}`,
        });
      },
      // A released reservation frees its stock.
      StockReleased: async ({ payload }, ctx) => {
        const { state } = await ctx.load(reservation, payload.orderId);
        await unholdAll(
          domain,
          ctx,
          payload.orderId,
          quantitiesBySku(state.items).map(([sku]) => sku),
        );
      },
    },
    ignore: [
      'OrderApproved',
      'OrderRejected',
      'CustomerCreditSet',
      'PaymentAuthorized',
      'PaymentReleased',
      'StockReserved',
      'StockReservationFailed',
    ],
  });

  const payment = defineProcessor<Payloads>({
    name: 'payment',
    topics: [eventsTopic(reservation.type), sagaControlTopic],
    filter: choreography,
    handlers: {
      StockReserved: async ({ payload }, ctx) => {
        await ctx.execute(customer, payload.customerId, 'Authorize', {
          orderId: payload.orderId,
          customerId: payload.customerId,
          amount: payload.total,
        });
      },
      SagaCompensationRequested: async ({ payload }, ctx) => {
        for (const step of payload.steps.filter((s) => s.entityType === customer.type)) {
          await ctx.execute(customer, step.entityId, 'Release', {
            orderId: payload.businessKey,
            customerId: step.entityId,
          });
        }
      },
    },
    ignore: ['StockReservationRequested', 'StockReservationFailed', 'StockReleased'],
  });

  const orders = defineProcessor<Payloads>({
    name: 'orders',
    topics: [
      eventsTopic(reservation.type),
      eventsTopic(customer.type),
      eventsTopic(names.workflow),
    ],
    filter: (e) =>
      e.entityType === names.workflow
        ? e.type === 'WorkflowCompensated' || e.type === 'WorkflowFailed'
        : choreography(e),
    handlers: {
      PaymentAuthorized: async ({ payload }, ctx) => {
        await ctx.execute(order, payload.orderId, 'Approve', {});
      },
      StockReservationFailed: async ({ payload }, ctx) => {
        await ctx.execute(order, payload.orderId, 'Reject', { reason: payload.reason });
      },
      // The reservation was undone: everything after it was undone before.
      StockReleased: async ({ payload }, ctx) => {
        await ctx.execute(order, payload.orderId, 'Reject', {
          reason: payload.reason === '' ? 'the stock reservation was released' : payload.reason,
        });
      },
      // An orchestrated order whose workflow compensated (or could not) is rejected.
      WorkflowCompensated: async ({ payload }, ctx) => {
        if (payload.workflowType !== workflowType || payload.businessKey === '') return;
        await ctx.execute(order, payload.businessKey, 'Reject', { reason: payload.reason });
      },
      WorkflowFailed: async ({ payload }, ctx) => {
        if (payload.workflowType !== workflowType || payload.businessKey === '') return;
        await ctx.execute(order, payload.businessKey, 'Reject', {
          reason: `${payload.reason} (compensation of ${payload.step} failed)`,
        });
      },
    },
    ignore: [
      'StockReservationRequested',
      'StockReserved',
      'CustomerCreditSet',
      'PaymentFailed',
      'PaymentReleased',
    ],
  });

  const shipping = defineProcessor<Payloads>({
    name: 'shipping',
    topics: [eventsTopic(order.type)],
    filter: choreography,
    handlers: {
      OrderApproved: async ({ payload }, ctx) => {
        await ctx.execute(shipment, payload.orderId, 'Schedule', { orderId: payload.orderId });
      },
    },
    ignore: ['OrderCreated', 'OrderRejected'],
  });

  return { inventory, payment, orders, shipping };
}
