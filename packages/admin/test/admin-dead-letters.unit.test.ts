import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import {
  MemoryAuditLog,
  MemoryBus,
  MemoryDeadLetterStore,
  MemorySagaViewStore,
  MemorySerde,
} from '@sagaflow/testing/memory';
import { expect, it } from 'vitest';
import { createAdminApp } from '../src/admin-app.js';

const schemas = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas');

it('shows a dead letter without its bytes, its payload with the sensitive fields redacted', async () => {
  const serde = new MemorySerde(await loadSchemaCatalog([schemas]));
  const store = new MemoryDeadLetterStore();
  const encoded = await serde.encode('OrderCreated', {
    orderId: 'o-1',
    customerId: 'c-secret-42',
    items: [{ sku: 'bolts', quantity: 1, unitPrice: 5 }],
    total: 5,
    mode: 'CHOREOGRAPHY',
  });
  const letter = {
    group: 'order-service.orders',
    sourceTopic: 'orders.order.events',
    sourcePartition: 0,
    reason: 'no handler',
    errorCode: 'UNKNOWN_EVENT_TYPE',
    attempts: 1,
    failedAt: '2026-01-01T00:00:00.000Z',
    eventType: 'OrderCreated',
    key: 'o-1',
    headers: {},
    replays: [],
  };
  await store.record({
    ...letter,
    id: 'order-service.orders.dlq/0/0',
    sourceOffset: '0',
    value: encoded.value.toString('base64'),
  });
  await store.record({
    ...letter,
    id: 'order-service.orders.dlq/0/1',
    sourceOffset: '1',
    failedAt: '2026-01-01T00:00:01.000Z',
    value: Buffer.from('c-secret-42 garbled').toString('base64'),
  });
  const app = createAdminApp({
    views: new MemorySagaViewStore(),
    audit: new MemoryAuditLog(),
    token: 'secret',
    requestCompensation: () => Promise.resolve(undefined),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    deadLetters: { store, publisher: new MemoryBus().client(), serde },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const response = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/dead-letters`,
      { headers: { authorization: 'Bearer secret' } },
    );
    const text = await response.text();
    expect(text).not.toContain('c-secret-42');
    expect(text).not.toContain(encoded.value.toString('base64'));
    const { deadLetters } = JSON.parse(text) as { deadLetters: Record<string, unknown>[] };
    expect(deadLetters).toEqual([
      expect.objectContaining({ id: 'order-service.orders.dlq/0/1', payloadUnreadable: true }),
      expect.objectContaining({
        id: 'order-service.orders.dlq/0/0',
        valueBytes: encoded.value.length,
        payload: expect.objectContaining({ orderId: 'o-1', customerId: '[REDACTED]' }) as unknown,
      }),
    ]);
    expect(deadLetters[0]).not.toHaveProperty('value');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
