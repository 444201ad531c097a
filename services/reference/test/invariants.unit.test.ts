import { expect, it } from 'vitest';
import type { OrderView, ReferenceClient } from '../src/client.js';
import { checkInvariants, settledInvariants } from '../src/scenario.js';

it('waits for a saga that ends after its order is settled before it calls the invariants broken', async () => {
  const order: OrderView = {
    orderId: 'ord-late',
    status: 'APPROVED',
    total: 300,
    sagaId: 'wf-late',
    customerId: 'c-1',
    items: [{ sku: 'widget', quantity: 2, unitPrice: 150 }],
    mode: 'orchestration',
  };
  // An orchestrated order is APPROVED one step before its shipment is scheduled.
  let shipmentReads = 0;
  const client = {
    stock: () => Promise.resolve({ available: 8, reserved: 2 }),
    customer: () => Promise.resolve({ creditReserved: 300 }),
    shipments: () => Promise.resolve(shipmentReads++ === 0 ? [] : [{ orderId: 'ord-late' }]),
  } as unknown as ReferenceClient;
  const starting = { stock: { widget: 10 }, credit: { 'c-1': 1000 } };
  expect(await checkInvariants(client, starting, [order])).toEqual([
    'order ord-late (APPROVED) has 0 shipments',
  ]);
  shipmentReads = 0;
  expect(await settledInvariants(client, starting, [order], { timeoutMs: 10_000 })).toEqual([]);
});
