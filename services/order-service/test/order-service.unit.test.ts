import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import type { EntityServiceProcess } from '@sagaflow/runtime';
import { startServiceInMemory, waitFor, type ServiceInMemory } from '@sagaflow/testing';
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

  it('refuses an Idempotency-Key reused with another request (422 naming the key); the same request still gets the first order', async () => {
    const first = await place(order, 'key-reused');
    expect(first.status).toBe(202);
    const ids = (await first.json()) as { orderId: string; sagaId: string };
    for (const other of [
      { ...order, customerId: 'c-2' },
      { ...order, items: [{ sku: 'widget', quantity: 3, unitPrice: 150 }] },
      { ...order, mode: 'choreography' },
    ]) {
      const reused = await place(other, 'key-reused');
      expect(reused.status).toBe(422);
      expect(await reused.json()).toMatchObject({
        error: { code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' },
      });
    }
    const same = await place(order, 'key-reused');
    expect(same.status).toBe(200);
    expect(await same.json()).toEqual(ids);
    // Once the order has moved on too (its saga settled it).
    const { orderId } = ids;
    await running.service.sagaflow.commands.execute(
      orderEntity('orders.order', 'orchestrator.workflow'),
      orderId,
      'Approve',
      {},
    );
    expect((await place(order, 'key-reused')).status).toBe(200);
    expect((await place({ ...order, customerId: 'c-2' }, 'key-reused')).status).toBe(422);
  });

  it('answers a body too large with 413, an encoding it cannot read with 415, and takes any valid key', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${running.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const large = await post(JSON.stringify({ ...order, note: 'x'.repeat(200_000) }));
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({
      error: { code: 'PAYLOAD_TOO_LARGE', field: 'body' },
    });
    const encoded = await post(JSON.stringify(order), { 'content-encoding': 'compress' });
    expect(encoded.status).toBe(415);
    expect(await encoded.json()).toMatchObject({
      error: { code: 'UNSUPPORTED_MEDIA_TYPE', field: 'Content-Encoding' },
    });
    const charset = await post(JSON.stringify(order), {
      'content-type': 'application/json; charset=klingon',
    });
    expect(charset.status).toBe(415);
    expect(await charset.json()).toMatchObject({
      error: { code: 'UNSUPPORTED_MEDIA_TYPE', field: 'Content-Type' },
    });
    // The longest key the header takes places an order like any other.
    const longest = 'k'.repeat(200);
    expect((await place(order, longest)).status).toBe(202);
    expect((await place(order, longest)).status).toBe(200);
  });

  it('refuses bad input with 400 naming the field, and answers 404 for an unknown order', async () => {
    const bad = await place({ ...order, items: [] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('items');
    // A total past what a long (and a JavaScript number) holds exactly.
    const huge = await place({
      ...order,
      items: Array.from({ length: 100 }, (_, i) => ({
        sku: `s-${i}`,
        quantity: 1_000_000,
        unitPrice: 1_000_000_000,
      })),
    });
    expect(huge.status).toBe(400);
    expect(await huge.json()).toMatchObject({ error: { field: 'items' } });
    const badKey = await place(order, 'a key with spaces');
    expect(badKey.status).toBe(400);
    expect((await fetch(`${running.url}/orders/ord-none`)).status).toBe(404);
  });

  it("lets only an order's own workflow settle it, not another one started with its id", async () => {
    const { orderId, sagaId } = (await (await place(order)).json()) as {
      orderId: string;
      sagaId: string;
    };
    const commands = running.service.sagaflow.commands;
    const entity = orderEntity('orders.order', 'orchestrator.workflow');
    const stranger = `wf-${'0'.repeat(32)}`;
    for (const [command, payload] of [
      ['Approve', {}],
      ['Reject', { reason: 'mine now' }],
    ] as const) {
      const refused = await commands.execute(entity, orderId, command, payload, {
        sagaId: stranger,
      });
      expect(refused.status).toBe('rejected');
    }
    const approved = await commands.execute(entity, orderId, 'Approve', {}, { sagaId });
    expect(approved.status !== 'rejected' && approved.state.status).toBe('APPROVED');
  });

  it('approves a pending order once, and never rejects an approved one', async () => {
    const { orderId } = (await (await place(order)).json()) as { orderId: string };
    const commands = running.service.sagaflow.commands;
    const entity = orderEntity('orders.order', 'orchestrator.workflow');
    await commands.execute(entity, orderId, 'Approve', {});
    const rejected = await commands.execute(entity, orderId, 'Reject', { reason: 'late' });
    expect(rejected.status).toBe('unchanged');
    expect(
      ((await (await fetch(`${running.url}/orders/${orderId}`)).json()) as { status: string })
        .status,
    ).toBe('APPROVED');
  });

  it("lists a customer's orders newest first, by status, in pages, from its view", async () => {
    const customerId = 'c-listed';
    const placed: string[] = [];
    for (let n = 0; n < 5; n += 1) {
      const response = await place({
        ...order,
        customerId,
        mode: n % 2 === 0 ? 'choreography' : 'orchestration',
      });
      placed.push(((await response.json()) as { orderId: string }).orderId);
      // Orders placed within one millisecond are listed by id: each here in a millisecond of its own.
      const placedAt = Date.now();
      await waitFor(() => Date.now() > placedAt, {
        timeoutMs: 1000,
        intervalMs: 1,
        description: 'the next millisecond',
      });
    }
    await place({ ...order, customerId: 'c-other' });
    const entity = orderEntity('orders.order', 'orchestrator.workflow');
    await running.service.sagaflow.commands.execute(entity, placed[1]!, 'Approve', {});
    const list = async (query: string) => {
      const response = await fetch(`${running.url}/customers/${customerId}/orders${query}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    type Listed = {
      orders: { orderId: string; status: string; total: number; mode: string; createdAt: string }[];
      next: string | null;
    };
    const newestFirst = [...placed].reverse();
    const all = await waitFor(
      async () => {
        const { body } = await list('?limit=100');
        const listed = body as unknown as Listed;
        return listed.orders.length === 5 && listed.orders.some((o) => o.status === 'APPROVED')
          ? listed
          : undefined;
      },
      { timeoutMs: 5000, description: "the customer's five orders listed" },
    );
    expect(all.orders.map((o) => o.orderId)).toEqual(newestFirst);
    expect(all.next).toBeNull();
    expect(all.orders[3]).toMatchObject({
      orderId: placed[1],
      status: 'APPROVED',
      total: 300,
      mode: 'orchestration',
    });
    expect(Object.keys(all.orders[3]!).sort()).toEqual([
      'createdAt',
      'mode',
      'orderId',
      'status',
      'total',
    ]);
    expect(Date.parse(all.orders[3]!.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    const first = (await list('?limit=2')).body as unknown as Listed;
    const second = (await list(`?limit=2&cursor=${first.next}`)).body as unknown as Listed;
    const third = (await list(`?limit=2&cursor=${second.next}`)).body as unknown as Listed;
    expect([...first.orders, ...second.orders, ...third.orders].map((o) => o.orderId)).toEqual(
      newestFirst,
    );
    expect(third.next).toBeNull();
    const pending = (await list('?status=PENDING')).body as unknown as Listed;
    expect(pending.orders.map((o) => o.orderId)).toEqual(
      newestFirst.filter((id) => id !== placed[1]),
    );
    expect((await list('?status=REJECTED')).body).toEqual({ orders: [], next: null });
    for (const [query, field] of [
      ['?status=LOST', 'status'],
      ['?limit=0', 'limit'],
      ['?limit=many', 'limit'],
      ['?cursor=nonsense', 'cursor'],
      ['?sort=asc', 'sort'],
    ] as const) {
      const { status, body } = await list(query);
      expect([status, (body['error'] as { field?: string } | undefined)?.field], query).toEqual([
        400,
        field,
      ]);
    }
  });
});
