import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { SagaView } from '@sagaflow/core';
import { MemoryAuditLog, MemorySagaViewStore } from '@sagaflow/testing/memory';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAdminApp } from '../src/admin-app.js';

/** More sagas than a page-through of views ever counted. */
const SAGAS = 10_050;

class CountingViews extends MemorySagaViewStore {
  pagesRead = 0;
  durationReads = 0;
  override query(...args: Parameters<MemorySagaViewStore['query']>) {
    this.pagesRead += 1;
    return super.query(...args);
  }
  override durations(...args: Parameters<MemorySagaViewStore['durations']>) {
    this.durationReads += 1;
    return super.durations(...args);
  }
}

const views = new CountingViews();
let server: Server;
let base: string;
let now = Date.UTC(2026, 6, 1);

beforeAll(async () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const written: SagaView[] = [];
  for (let i = 0; i < SAGAS; i += 1) {
    const ended = i % 2 === 0;
    written.push({
      sagaId: `s-${i}`,
      type: 'order-placement',
      status: ended ? 'completed' : 'running',
      startedAt: at(i * 10_000),
      updatedAt: at(i * 10_000),
      // Ended sagas took 1 to 100 seconds.
      ...(ended ? { endedAt: at(i * 10_000 + ((i / 2) % 100) * 1000 + 1000) } : {}),
      steps: [],
      timeline: [],
    });
  }
  await views.writeViews(written);
  const app = createAdminApp({
    views,
    audit: new MemoryAuditLog(),
    token: 'secret',
    clock: () => new Date(now),
    requestCompensation: () => Promise.resolve(undefined),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

it('counts every saga from the store and takes percentiles from the latest ended ones, without reading views', async () => {
  const stats = async () =>
    (await (
      await fetch(`${base}/sagas/stats`, { headers: { authorization: 'Bearer secret' } })
    ).json()) as {
      types: { type: string; counts: Record<string, number>; durationMs: Record<string, number> }[];
    };
  const first = await stats();
  expect(first.types).toEqual([
    {
      type: 'order-placement',
      counts: {
        running: SAGAS / 2,
        completed: SAGAS / 2,
        compensating: 0,
        compensated: 0,
        failed: 0,
        stuck: 0,
      },
      durationMs: { p50: 50_000, p95: 95_000, ended: SAGAS / 2, sampled: 1_000 },
    },
  ]);
  expect(views.pagesRead).toBe(0);
  expect(views.durationReads).toBe(1);
  // Pages that poll within a moment of each other are answered from one reading.
  await Promise.all([stats(), stats(), stats()]);
  expect(views.durationReads).toBe(1);
  // Read again once the moment has passed.
  now += 5_000;
  await stats();
  expect(views.durationReads).toBe(2);
});
