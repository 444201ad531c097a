import { buildInventoryService } from '@sagaflow/inventory-service';
import { buildOrchestratorService } from '@sagaflow/orchestrator-service';
import { buildOrderService } from '@sagaflow/order-service';
import { buildPaymentService } from '@sagaflow/payment-service';
import { sagaIdOf } from '@sagaflow/reference-contracts';
import type { ProcessConfig, AdapterFactory, ServiceProcess } from '@sagaflow/runtime';
import { buildShippingService } from '@sagaflow/shipping-service';
import { waitFor } from '@sagaflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { OrderView } from '../src/client.js';
import { startInMemorySystem, stopInMemorySystems } from './in-memory-system.js';

afterEach(stopInMemorySystems);

type OrchestratorProcess = Awaited<ReturnType<typeof buildOrchestratorService>>;

/** The system, with large orders (at least 10,000 cents) waiting `timeoutMs` for approval. */
async function system(timeoutMs = 60_000) {
  const started = await startInMemorySystem<ServiceProcess>({
    order: buildOrderService,
    inventory: buildInventoryService,
    payment: buildPaymentService,
    shipping: buildShippingService,
    orchestrator: (config: ProcessConfig, adapters: AdapterFactory) =>
      buildOrchestratorService(
        { ...config, approvalThreshold: 10_000, approvalTimeoutMs: timeoutMs },
        adapters,
      ),
  });
  const { client } = started;
  await client.setStock('pianos', 5);
  await client.setCredit('c-1', 100_000);
  const { orchestrator } = started.services['orchestrator']!.service as OrchestratorProcess;
  /** Places an order of `quantity` pianos at 5,000 cents in orchestration mode. */
  const place = async (quantity: number) =>
    (
      await client.placeOrder({
        customerId: 'c-1',
        items: [{ sku: 'pianos', quantity, unitPrice: 5_000 }],
        mode: 'orchestration',
      })
    ).orderId;
  const order = (orderId: string, status: OrderView['status']) =>
    waitFor(
      async () => {
        const found = await client.order(orderId);
        return found.status === status ? found : undefined;
      },
      { timeoutMs: 10_000, description: `order ${orderId} ${status}` },
    );
  const decide = (orderId: string, body: unknown) =>
    fetch(`${client.urls.order}/orders/${orderId}/approval`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return { ...started, orchestrator, place, order, decide };
}

describe('manual approval of large orchestrated orders', () => {
  it('holds stock and credit while a large order waits; approved, it is approved and shipped', async () => {
    const { client, place, order, decide, orchestrator } = await system();
    const small = await place(1);
    const large = await place(2);
    expect((await order(small, 'APPROVED')).approval).toBeUndefined();
    const waiting = await order(large, 'AWAITING_APPROVAL');
    expect(waiting.total).toBe(10_000);
    expect(await client.stock('pianos')).toMatchObject({ available: 2, reserved: 3 });
    expect(await client.customer('c-1')).toMatchObject({ creditReserved: 15_000 });
    const workflow = await orchestrator.get(sagaIdOf(large, 'ORCHESTRATION'));
    expect(workflow?.current?.step).toBe('await-approval');

    const approved = await decide(large, { approved: true, by: 'ann' });
    expect(approved.status).toBe(202);
    expect(await approved.json()).toEqual({ orderId: large, approved: true, by: 'ann' });
    expect(await order(large, 'APPROVED')).toMatchObject({
      approval: { approved: true, by: 'ann' },
    });
    await waitFor(async () => (await client.shipments(large)).length === 1, {
      timeoutMs: 10_000,
      description: 'the large order shipped',
    });
    // A second decision is refused; so is one on an order that never waited.
    const again = await decide(large, { approved: false, by: 'bob' });
    expect(again.status).toBe(409);
    const { error } = (await again.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('COMMAND_REJECTED');
    expect(error.message).toMatch(/approved already, by ann/);
    expect((await decide(small, { approved: true, by: 'ann' })).status).toBe(409);
    expect((await decide('ord-nope', { approved: true, by: 'ann' })).status).toBe(404);
  });

  it('compensates a refused order: its stock and credit released, the order rejected', async () => {
    const { client, place, order, decide } = await system();
    const large = await place(3);
    await order(large, 'AWAITING_APPROVAL');
    expect((await decide(large, { approved: false, by: 'bob' })).status).toBe(202);
    expect(await order(large, 'REJECTED')).toMatchObject({
      rejectionReason: 'refused by bob',
      approval: { approved: false, by: 'bob' },
    });
    await waitFor(async () => (await client.stock('pianos')).reserved === 0, {
      timeoutMs: 10_000,
      description: 'the stock released',
    });
    await waitFor(async () => (await client.customer('c-1')).creditReserved === 0, {
      timeoutMs: 10_000,
      description: 'the credit released',
    });
    expect(await client.shipments(large)).toEqual([]);
    expect((await decide(large, { approved: true, by: 'ann' })).status).toBe(409);
  });

  it('rejects an order nobody decided on in time: approval timed out', async () => {
    const { client, place, order, decide } = await system(500);
    const large = await place(2);
    expect(await order(large, 'REJECTED')).toMatchObject({ rejectionReason: 'approval timed out' });
    await waitFor(async () => (await client.stock('pianos')).reserved === 0, {
      timeoutMs: 10_000,
      description: 'the stock released',
    });
    expect((await decide(large, { approved: true, by: 'ann' })).status).toBe(409);
  });

  it('refuses a decision that is not one, naming the field', async () => {
    const { place, order, decide } = await system();
    const large = await place(2);
    await order(large, 'AWAITING_APPROVAL');
    for (const [body, field] of [
      [{ by: 'ann' }, 'approved'],
      [{ approved: 'yes', by: 'ann' }, 'approved'],
      [{ approved: true }, 'by'],
      [{ approved: true, by: '' }, 'by'],
      [{ approved: true, by: 'ann', extra: 1 }, 'extra'],
    ] as const) {
      const response = await decide(large, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(await response.json()).toMatchObject({ error: { field } });
    }
    expect((await order(large, 'AWAITING_APPROVAL')).approval).toBeUndefined();
  });
});
