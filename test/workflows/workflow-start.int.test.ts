import type { AddressInfo } from 'node:net';
import { workflowRoutes } from '@sagaflow/admin';
import { eventsTopic, workflowIdOf } from '@sagaflow/core';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { purchaseFlow, purchaseInput, purchaseSchemaDirs } from '../fixtures/purchase-flow.js';
import { realOrchestrator } from '../fixtures/real-orchestrator.js';
import { realService } from '../fixtures/real-service.js';

const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close();
});

const input = purchaseInput;

describe('starting workflows: over HTTP and from events, once per idempotency key', () => {
  const domain = uniqueDomain();
  const flow = purchaseFlow(domain);
  let shop: Awaited<ReturnType<typeof realService>>;
  let real: Awaited<ReturnType<typeof realOrchestrator>>;
  let post: (type: string, body: unknown, key?: string) => Promise<Response>;
  let base: string;

  beforeAll(async () => {
    shop = await realService(testEnv(), {
      name: `shop-${domain}`,
      database: uniqueDatabase('shop'),
      schemasDir: purchaseSchemaDirs,
      entities: [flow.stock, flow.wallet, flow.parcel, flow.cart],
      commandEndpoints: flow.endpoints,
    });
    await shop.service.start();
    closing.push(async () => {
      await shop.service.stop();
      await shop.close();
    });
    await shop.service.execute(flow.stock, 'sku-1', 'Set', { available: 100 });
    await shop.service.execute(flow.wallet, 'ann', 'Deposit', { amount: 10_000 });
    real = await realOrchestrator(testEnv(), {
      name: `orchestrator-${domain}`,
      database: uniqueDatabase('orchestrator'),
      schemasDir: purchaseSchemaDirs,
      entityType: `${domain}.workflow`,
      workflows: [flow.purchase],
      triggers: [
        {
          topic: eventsTopic(flow.cart.type),
          eventType: 'CartCheckedOut',
          workflow: 'purchase',
          key: (event) => `cart-${event.entityId}`,
          input: (event) => event.payload,
        },
      ],
    });
    await real.orchestrator.start();
    closing.push(async () => {
      await real.orchestrator.stop();
      await real.close();
    });
    const app = express().use(workflowRoutes(real.orchestrator, { token: 'start-token' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    closing.push(() => new Promise((resolve) => server.close(resolve)));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    post = (type, body, key) =>
      fetch(`${base}/workflows/${type}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: {
          authorization: 'Bearer start-token',
          'content-type': 'application/json',
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
      });
  });

  it('starts a workflow over HTTP once per Idempotency-Key', async () => {
    const first = await post('purchase', input(1), 'http-order-1');
    expect(first.status).toBe(202);
    const started = (await first.json()) as { workflowId: string; created: boolean };
    expect(started).toEqual({
      workflowId: workflowIdOf('purchase', 'http-order-1'),
      created: true,
      version: 1,
    });
    const again = await post('purchase', input(1), 'http-order-1');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ...started, created: false });
    const done = await waitFor(
      async () => {
        const res = await fetch(`${base}/workflows/${started.workflowId}`, {
          headers: { authorization: 'Bearer start-token' },
        });
        const body = (await res.json()) as { status: string };
        return body.status === 'completed' ? body : undefined;
      },
      { timeoutMs: 30_000, description: 'the workflow completed' },
    );
    expect(done).toMatchObject({ workflowId: started.workflowId, businessKey: 'p-1' });
    expect(
      (await shop.store.load<{ reservations: number }>(flow.stock.type, 'sku-1'))!.state
        .reservations,
    ).toBe(1);
  });

  it('refuses a bad start with a 400 naming what was wrong', async () => {
    const cases: [Response, string, string][] = [
      [await post('purchase', input(2)), 'Idempotency-Key', 'the Idempotency-Key header'],
      [await post('purchase', { ...input(2), quantity: 0 }, 'k-2'), 'input', 'input.quantity'],
      [await post('refund', input(2), 'k-3'), 'type', "type names no workflow here (got 'refund'"],
    ];
    for (const [res, field, message] of cases) {
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { field: string; message: string } };
      expect(body.error.field).toBe(field);
      expect(body.error.message.startsWith(message)).toBe(true);
    }
    const unknown = await fetch(`${base}/workflows/wf-none`, {
      headers: { authorization: 'Bearer start-token' },
    });
    expect(unknown.status).toBe(404);
    const anonymous = await fetch(`${base}/workflows/wf-none`);
    expect(anonymous.status).toBe(401);
  });

  it('starts a workflow from an event, once however often the event comes', async () => {
    await shop.service.execute(flow.cart, 'cart-7', 'Checkout', input(7));
    const workflowId = workflowIdOf('purchase', 'cart-cart-7');
    const done = await waitFor(
      async () => {
        const state = await real.orchestrator.get(workflowId);
        return state?.status === 'completed' ? state : undefined;
      },
      { timeoutMs: 30_000, description: 'the workflow started by the checkout' },
    );
    expect(done.input).toEqual(input(7));
    // The same start again (a redelivered event) finds the workflow and starts nothing.
    const again = await real.orchestrator.startWorkflow('purchase', {
      key: 'cart-cart-7',
      input: input(7),
    });
    expect(again).toEqual({ workflowId, created: false, version: 1 });
    expect(
      (await shop.store.load<{ reservations: number }>(flow.stock.type, 'sku-1'))!.state
        .reservations,
    ).toBe(2);
  });
});
