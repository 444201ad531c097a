import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedSystem } from '../src/embedded.js';
import {
  checkInvariants,
  mixedBatch,
  placeAll,
  seed,
  summarize,
  waitUntilTerminal,
} from '../src/scenario.js';

/** The whole system in one process on the in-memory adapters: what `pnpm demo` runs. */
let system: EmbeddedSystem;
beforeAll(async () => {
  const ports = { order: 0, inventory: 0, payment: 0, shipping: 0, orchestrator: 0, admin: 0 };
  system = await startEmbedded({ ports });
});
afterAll(async () => {
  await system?.stop();
});

describe('the embedded reference system', () => {
  it('settles a mixed batch of both modes with every invariant intact', async () => {
    const batch = mixedBatch(200, { seed: 5, prefix: 'emb-' });
    await seed(system.client, batch.starting);
    const ids = await placeAll(system.client, batch.orders, { keyPrefix: 'emb' });
    const { orders, quiet } = await waitUntilTerminal(system.client, ids, { timeoutMs: 60_000 });
    expect(quiet).toBe(true);
    const rows = new Map(summarize([...orders.values()]));
    for (const mode of ['choreography', 'orchestration']) {
      for (const outcome of ['APPROVED', 'REJECTED (stock)', 'REJECTED (credit)']) {
        expect(rows.get(`${mode} ${outcome}`) ?? 0, `${mode} ${outcome}`).toBeGreaterThan(0);
      }
    }
    expect(await checkInvariants(system.client, batch.starting, [...orders.values()])).toEqual([]);
  });

  it('approves exactly as many racing orders as there is stock for', async () => {
    await system.client.setStock('emb-hot', 100);
    await system.client.setCredit('emb-rich', 1_000_000_000);
    const orders = Array.from({ length: 300 }, (_, i) => ({
      customerId: 'emb-rich',
      items: [{ sku: 'emb-hot', quantity: 1, unitPrice: 5 }],
      mode: i % 2 === 0 ? ('choreography' as const) : ('orchestration' as const),
    }));
    const ids = await placeAll(system.client, orders, { keyPrefix: 'emb-race', concurrency: 32 });
    const { orders: views } = await waitUntilTerminal(system.client, ids, { timeoutMs: 60_000 });
    expect([...views.values()].filter((o) => o.status === 'APPROVED')).toHaveLength(100);
    expect(await system.client.stock('emb-hot')).toEqual({
      sku: 'emb-hot',
      available: 0,
      reserved: 100,
    });
  });

  it('shows every saga in the admin API, behind its token', async () => {
    const unauthorized = await fetch(`${system.urls.admin}/sagas`);
    expect(unauthorized.status).toBe(401);
    const response = await fetch(`${system.urls.admin}/sagas?limit=5&status=completed`, {
      headers: { authorization: `Bearer ${system.adminToken}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { sagas: { status: string }[] };
    expect(body.sagas).toHaveLength(5);
    expect(body.sagas.every((s) => s.status === 'completed')).toBe(true);
  });
});
