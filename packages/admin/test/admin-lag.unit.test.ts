import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { MemoryAuditLog, MemorySagaViewStore } from '@sagaflow/testing/memory';
import { waitFor } from '@sagaflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminApp, type AdminOptions } from '../src/admin-app.js';
import { busWithBacklog } from './seed.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function admin(extra: Partial<AdminOptions>) {
  let now = Date.UTC(2026, 11, 2, 10);
  const app = createAdminApp({
    views: new MemorySagaViewStore(),
    audit: new MemoryAuditLog(),
    token: 'secret',
    clock: () => new Date(now),
    requestCompensation: () => Promise.resolve(undefined),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    ...extra,
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get: (path: string, token = 'secret') =>
      fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }),
    later: (ms: number) => (now += ms),
  };
}

describe('GET /lag', () => {
  it("shows how far behind each reader is (a view's group, the tracker), as of when it was read", async () => {
    const bus = await busWithBacklog();
    const { get, later } = await admin({
      lag: {
        offsets: bus,
        readers: [
          {
            group: 'order-service.view.orders-by-customer.v1',
            topics: ['shop.order.events'],
            kind: 'view',
            name: 'orders-by-customer',
            service: 'order-service',
          },
          { group: 'admin.tracker', topics: ['shop.order.events'], kind: 'tracker' },
        ],
      },
    });
    const first = await get('/lag');
    expect(first.status).toBe(200);
    const body = (await first.json()) as {
      at: string;
      readers: { group: string; name: string; lag: number; partitions: unknown[] }[];
    };
    expect(body.at).toBe('2026-12-02T10:00:00.000Z');
    expect(body.readers.map(({ name, lag }) => [name, lag])).toEqual([
      ['orders-by-customer', 3],
      ['admin.tracker', 3],
    ]);
    expect(body.readers[0]).toMatchObject({ kind: 'view', service: 'order-service' });
    expect(body.readers[0]!.partitions).toHaveLength(2);

    // The view's group consumes the topic: it is behind by nothing once read again.
    const subscription = await bus.subscribe(
      { groupId: 'order-service.view.orders-by-customer.v1', topics: ['shop.order.events'] },
      () => Promise.resolve(),
    );
    await subscription.ready;
    later(2000);
    await waitFor(
      async () => {
        later(2000);
        const { readers } = (await (await get('/lag')).json()) as typeof body;
        return readers[0]!.lag === 0 ? readers : undefined;
      },
      { timeoutMs: 5000, description: "the view's group caught up" },
    );
    await subscription.stop();
    await bus.close();
  });

  it('answers 404 where the admin reads no lag, and 403 to a wrong token', async () => {
    const { get } = await admin({});
    const response = await get('/lag');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await get('/lag', 'wrong')).status).toBe(403);
  });
});
