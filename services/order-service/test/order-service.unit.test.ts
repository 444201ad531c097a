import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import type { EntityServiceProcess } from '@sagaflow/runtime';
import { startServiceInMemory, type ServiceInMemory } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEntity } from '../src/order.js';
import { buildOrderService } from '../src/order-service.js';

let running: ServiceInMemory<EntityServiceProcess>;

beforeAll(async () => {
  running = await startServiceInMemory(buildOrderService, { schemaDirs: referenceSchemaDirs });
});
afterAll(() => running.stop());

const place = (body: unknown, key?: string) =>
  fetch(`${running.url}/orders`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    body: JSON.stringify(body),
  });
const order = {
  customerId: 'c-1',
  items: [{ sku: 'widget', quantity: 2, unitPrice: 150 }],
  mode: 'orchestration',
};

describe('order service (in memory)', () => {
  it('places an order once per Idempotency-Key, PENDING with its total and saga id', async () => {
    const first = await place(order, 'key-1');
    expect(first.status).toBe(202);
    const ids = (await first.json()) as { orderId: string; sagaId: string };
    expect(ids.sagaId).toMatch(/^wf-[0-9a-f]{32}$/);
    const again = await place(order, 'key-1');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(ids);
    const read = await fetch(`${running.url}/orders/${ids.orderId}`);
    expect(await read.json()).toMatchObject({
      orderId: ids.orderId,
      status: 'PENDING',
      total: 300,
      mode: 'orchestration',
      sagaId: ids.sagaId,
    });
  });

  it('refuses bad input with 400 naming the field, and answers 404 for an unknown order', async () => {
    const bad = await place({ ...order, items: [] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('items');
    const badKey = await place(order, 'a key with spaces');
    expect(badKey.status).toBe(400);
    expect((await fetch(`${running.url}/orders/ord-none`)).status).toBe(404);
  });

  it('approves a pending order once, and never rejects an approved one', async () => {
    const { orderId } = (await (await place(order)).json()) as { orderId: string };
    const commands = running.service.sagaflow.commands;
    const entity = orderEntity('orders.order');
    await commands.execute(entity, orderId, 'Approve', {});
    const rejected = await commands.execute(entity, orderId, 'Reject', { reason: 'late' });
    expect(rejected.status).toBe('unchanged');
    expect(
      ((await (await fetch(`${running.url}/orders/${orderId}`)).json()) as { status: string })
        .status,
    ).toBe('APPROVED');
  });
});
