import type { AddressInfo } from 'node:net';
import { workflowRoutes } from '@sagaflow/admin';
import { ORDER_WORKFLOW, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { startServiceInMemory } from '@sagaflow/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOrchestratorService } from '../src/orchestrator-service.js';

type Running = Awaited<ReturnType<typeof start>>;
const start = () =>
  startServiceInMemory(
    (config, adapters) =>
      buildOrchestratorService(config, adapters, {
        readCredit: (customerId) =>
          Promise.resolve({ customerId, known: true, creditLimit: 1000, creditReserved: 0 }),
      }),
    { schemaDirs: referenceSchemaDirs, env: { ADMIN_TOKEN: 'start-token' } },
  );

let running: Running;
beforeAll(async () => {
  running = await start();
});
afterAll(() => running.stop());

const order = {
  orderId: 'ord-1',
  customerId: 'c-1',
  items: [{ sku: 'widget', quantity: 2, unitPrice: 150 }],
  total: 300,
};
const post = (body: string | undefined, key = 'k-1', token: string | null = 'start-token') =>
  fetch(`${running.url}/workflows/${ORDER_WORKFLOW}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': key,
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body }),
  });

describe('order-fulfillment starts over HTTP', () => {
  it('refuses an input that does not fit OrderFulfillmentInput or its ranges, with 400 naming the field', async () => {
    const item = order.items[0]!;
    const cases: [unknown, string][] = [
      [
        { ...order, items: [{ ...item, quantity: -1000 }], total: -300_000 },
        'input.items.0.quantity',
      ],
      [{ ...order, items: [{ ...item, unitPrice: -5 }], total: -10 }, 'input.items.0.unitPrice'],
      [{ ...order, total: -500_000 }, 'input.total'],
      [{ ...order, total: 299 }, 'input.total'],
      [{ ...order, items: [] }, 'input.items'],
      [{ ...order, customerId: 7 }, 'input.customerId'],
      [{ ...order, items: [{ ...item, quantity: 'two' }] }, 'input.items.0.quantity'],
      [{ orderId: 'ord-1' }, 'input.customerId'],
      [{}, 'input.orderId'],
      [[], 'input'],
    ];
    for (const [body, field] of cases) {
      const res = await post(JSON.stringify(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json(), JSON.stringify(body)).toMatchObject({
        error: { code: 'INVALID_ARGUMENT', field },
      });
    }
    // No body at all: an empty object, without its first field.
    const empty = await post(undefined);
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { field: 'input.orderId' } });
    expect((await post(JSON.stringify(order))).status).toBe(202);
  });

  it('refuses to start without the token, and closes the routes of a service that has none', async () => {
    expect((await post(JSON.stringify(order), 'k-2', null)).status).toBe(401);
    expect((await post(JSON.stringify(order), 'k-2', 'wrong')).status).toBe(403);
    const open = express().use(workflowRoutes(running.service.orchestrator));
    const server = open.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/workflows/${ORDER_WORKFLOW}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'k-3' },
          body: JSON.stringify(order),
        },
      );
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
