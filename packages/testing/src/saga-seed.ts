import { defineSaga, SagaTracker, type SagaViewStore, type TimelineEntry } from '@sagaflow/core';
import { SchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemorySerde } from '@sagaflow/memory';

const saga = defineSaga({
  type: 'order-placement',
  startsWith: 'OrderCreated',
  topics: ['orders.order.events'],
  businessKey: 'orderId',
  steps: [
    {
      name: 'reserve-stock',
      participant: 'inventory',
      on: ['OrderCreated'],
      success: ['StockReserved'],
      failure: ['StockReservationFailed'],
      compensation: ['StockReleased'],
      deadlineMs: 60_000,
    },
    {
      name: 'authorize-payment',
      participant: 'payment',
      on: ['StockReserved'],
      success: ['PaymentAuthorized'],
      failure: ['PaymentFailed'],
      deadlineMs: 1000,
    },
  ],
  outcomes: { completed: ['PaymentAuthorized'], compensated: ['OrderRejected'] },
});

let offset = 0;
const PARTICIPANTS: Record<string, string> = {
  OrderCreated: 'order-service',
  OrderRejected: 'order-service',
  StockReserved: 'inventory-service',
  StockReleased: 'inventory-service',
  PaymentAuthorized: 'payment-service',
  PaymentFailed: 'payment-service',
  SagaMessageWaiting: 'payment-service',
};
const entry = (
  sagaId: string,
  type: string,
  at: string,
  fields: Record<string, string> = {},
): TimelineEntry => ({
  eventId: `${sagaId}-${type}`,
  type,
  participant: PARTICIPANTS[type] ?? 'unknown-service',
  entityType: 'orders.order',
  entityId: sagaId,
  topic: 'orders.order.events',
  partition: 0,
  offset: String(offset++),
  occurredAt: at,
  keyFields: { orderId: `order-${sagaId}`, ...fields },
});

/**
 * Four sagas of `order-placement` in a view store, through the tracker's own derivation:
 * completed (s-done), compensated (s-comp), stuck (s-stuck, a message of it waiting for the
 * schema registry) and running (s-run). For tests of
 * what reads views (the admin API, the CLI).
 */
export async function seedSagaViews<V extends SagaViewStore>(views: V) {
  const tracker = new SagaTracker({
    definitions: [saga],
    subscriber: new MemoryBus(),
    serde: new MemorySerde(new SchemaCatalog([])),
    views,
  });
  await views.prepare();
  const timelines: Record<string, TimelineEntry[]> = {
    's-done': [
      entry('s-done', 'OrderCreated', '2026-11-20T10:00:00.000Z'),
      entry('s-done', 'StockReserved', '2026-11-20T10:00:01.000Z'),
      entry('s-done', 'PaymentAuthorized', '2026-11-20T10:00:03.000Z'),
    ],
    's-comp': [
      entry('s-comp', 'OrderCreated', '2026-11-21T10:00:00.000Z'),
      entry('s-comp', 'StockReserved', '2026-11-21T10:00:01.000Z'),
      entry('s-comp', 'PaymentFailed', '2026-11-21T10:00:02.000Z', {
        reason: 'credit limit exceeded',
      }),
      entry('s-comp', 'StockReleased', '2026-11-21T10:00:03.000Z'),
      entry('s-comp', 'OrderRejected', '2026-11-21T10:00:04.000Z'),
    ],
    's-stuck': [
      entry('s-stuck', 'OrderCreated', '2026-11-22T10:00:00.000Z'),
      entry('s-stuck', 'StockReserved', '2026-11-22T10:00:01.000Z'),
      // The payment holds the reservation back: the schema registry does not answer.
      entry('s-stuck', 'SagaMessageWaiting', '2026-11-22T10:00:02.000Z', {
        group: 'payment-service.payment',
        code: 'SERDE_FAILED',
        reason: 'schema registry unreachable: ECONNREFUSED',
        messageType: 'StockReserved',
        since: '2026-11-22T10:00:01.500Z',
      }),
    ],
    's-run': [entry('s-run', 'OrderCreated', new Date().toISOString())],
  };
  for (const [sagaId, entries] of Object.entries(timelines)) {
    for (const e of entries) await views.recordEntry(sagaId, e);
    await tracker.refresh(sagaId);
  }
  return { views, tracker };
}
