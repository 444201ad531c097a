import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { MongoAuditLog } from '@sagaflow/mongodb';
import { testEnv, uniqueDatabase } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../src/index.js';
import { seedSagas, TOKEN } from './seed.js';

describe('admin API on the real database', () => {
  let client: MongoClient;
  let server: Server;
  let base: string;
  let audit: MongoAuditLog;
  const api = (path: string, init: RequestInit & { token?: string | null } = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }),
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  beforeAll(async () => {
    client = await new MongoClient(testEnv().mongodbUrl).connect();
    const db = client.db(uniqueDatabase('admin'));
    const { views, tracker } = await seedSagas(db);
    audit = new MongoAuditLog(db);
    const app = createAdminApp({
      views,
      audit,
      token: TOKEN,
      requestCompensation: (id, request) => tracker.requestCompensation(id, request),
      readiness: async () => {
        await client.db('admin').command({ ping: 1 });
        return { ready: true, checks: { database: { ok: true } } };
      },
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await client.close();
  });

  it('answers health and readiness without a token', async () => {
    expect(await (await api('/healthz', { token: null })).json()).toEqual({ status: 'ok' });
    const ready = await api('/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
  });

  it('refuses a missing token with 401 and a wrong one with 403', async () => {
    const missing = await api('/sagas', { token: null });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: { code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <token>' },
    });
    expect((await api('/sagas', { token: 'wrong' })).status).toBe(403);
    expect((await api('/metrics', { token: null })).status).toBe(401);
    // A body is not read before the token is checked: no parse errors for strangers.
    for (const body of ['{not json', JSON.stringify({ reason: 'x'.repeat(50_000) })]) {
      const stranger = await api('/sagas/any/compensate', { method: 'POST', token: null, body });
      expect(stranger.status).toBe(401);
    }
    const holder = await api('/sagas/any/compensate', { method: 'POST', body: '{not json' });
    expect(holder.status).toBe(400);
    expect(await holder.json()).toMatchObject({ error: { field: 'body' } });
    const large = await api('/sagas/any/compensate', {
      method: 'POST',
      body: JSON.stringify({ reason: 'x'.repeat(50_000) }),
    });
    expect(large.status).toBe(413);
    expect(() =>
      createAdminApp({
        views: undefined as never,
        audit,
        token: undefined,
        requestCompensation: () => Promise.resolve(undefined),
        readiness: () => Promise.resolve({ ready: true, checks: {} }),
      }),
    ).toThrow(/token must be set/);
  });

  it('lists sagas by filter, newest first, page by page', async () => {
    const all = (await (await api('/sagas?type=order-placement')).json()) as {
      sagas: { sagaId: string; status: string; events: number }[];
    };
    expect(all.sagas.map((s) => s.sagaId)).toEqual(['s-run', 's-stuck', 's-comp', 's-done']);
    expect(all.sagas.find((s) => s.sagaId === 's-comp')).toMatchObject({
      status: 'compensated',
      events: 5,
    });
    const stuck = (await (await api('/sagas?status=stuck')).json()) as {
      sagas: { sagaId: string }[];
    };
    expect(stuck.sagas.map((s) => s.sagaId)).toEqual(['s-stuck']);
    // What a message of it waits for, in the list and the detail.
    expect(stuck.sagas[0]).toMatchObject({
      waiting: {
        code: 'SERDE_FAILED',
        group: 'payment-service.payment',
        service: 'payment-service',
      },
    });
    expect(await (await api('/sagas/s-stuck')).json()).toMatchObject({
      waiting: {
        reason: 'schema registry unreachable: ECONNREFUSED',
        messageType: 'StockReserved',
        since: '2026-11-22T10:00:01.500Z',
      },
    });
    const byKey = (await (await api('/sagas?q=order-s-done')).json()) as {
      sagas: { sagaId: string }[];
    };
    expect(byKey.sagas.map((s) => s.sagaId)).toEqual(['s-done']);
    const page1 = (await (await api('/sagas?limit=2')).json()) as {
      sagas: { sagaId: string }[];
      next: string;
    };
    const page2 = (await (await api(`/sagas?limit=2&cursor=${page1.next}`)).json()) as {
      sagas: { sagaId: string }[];
      next?: string;
    };
    expect([...page1.sagas, ...page2.sagas].map((s) => s.sagaId)).toEqual([
      's-run',
      's-stuck',
      's-comp',
      's-done',
    ]);
    const window = (await (
      await api('/sagas?since=2026-11-21T00:00:00Z&until=2026-11-22T00:00:00Z')
    ).json()) as { sagas: { sagaId: string }[] };
    expect(window.sagas.map((s) => s.sagaId)).toEqual(['s-comp']);
  });

  it('refuses bad input with 400, naming the field', async () => {
    const cases: [string, string][] = [
      ['/sagas?status=lost', 'status'],
      ['/sagas?limit=0', 'limit'],
      ['/sagas?limit=abc', 'limit'],
      ['/sagas?since=yesterday', 'since'],
      ['/sagas?since=2026-11-22T00:00:00Z&until=2026-11-21T00:00:00Z', 'since'],
      ['/sagas?colour=red', 'colour'],
      ['/sagas?cursor=garbage', 'after'],
    ];
    for (const [path, field] of cases) {
      const response = await api(path);
      expect(response.status, path).toBe(400);
      const body = (await response.json()) as {
        error: { code: string; field: string; message: string };
      };
      expect(body.error, path).toMatchObject({ code: 'INVALID_ARGUMENT', field });
    }
    const noReason = await api('/sagas/s-run/compensate', {
      method: 'POST',
      body: JSON.stringify({}),
    });
    expect(noReason.status).toBe(400);
    expect(await noReason.json()).toMatchObject({ error: { field: 'reason' } });
    const badJson = await api('/sagas/s-run/compensate', { method: 'POST', body: '{oops' });
    expect(badJson.status).toBe(400);
  });

  it('shows a saga with its timeline, and 404 for an unknown one', async () => {
    const view = (await (await api('/sagas/s-comp')).json()) as {
      status: string;
      error: string;
      timeline: { type: string }[];
      steps: { status: string }[];
    };
    expect(view).toMatchObject({
      status: 'compensated',
      error: 'credit limit exceeded',
      businessKey: 'order-s-comp',
    });
    expect(view.timeline.map((e) => e.type)).toEqual([
      'OrderCreated',
      'StockReserved',
      'PaymentFailed',
      'StockReleased',
      'OrderRejected',
    ]);
    expect(view.steps.map((s) => s.status)).toEqual(['compensated', 'failed']);
    const unknown = await api('/sagas/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND', field: 'id' } });
  });

  it('counts sagas per type and status with duration percentiles', async () => {
    const stats = (await (await api('/sagas/stats')).json()) as {
      types: {
        type: string;
        counts: Record<string, number>;
        durationMs: Record<string, number | null>;
      }[];
    };
    expect(stats.types).toEqual([
      {
        type: 'order-placement',
        counts: { running: 1, completed: 1, compensating: 0, compensated: 1, failed: 0, stuck: 1 },
        durationMs: { p50: 3000, p95: 4000, ended: 2, sampled: 2 },
      },
    ]);
  });

  it('starts compensation of a stuck saga, audits it, and refuses it for an ended one', async () => {
    const response = await api('/sagas/s-stuck/compensate', {
      method: 'POST',
      body: JSON.stringify({ reason: 'payment never answered' }),
      headers: { 'x-operator': 'alice' },
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      sagaId: 's-stuck',
      status: 'compensating',
      compensationRequest: { by: 'alice', reason: 'payment never answered' },
    });
    const [latest] = await audit.recent(1);
    expect(latest).toMatchObject({
      action: 'saga.compensate',
      target: 's-stuck',
      by: 'alice',
      details: { reason: 'payment never answered' },
    });
    const ended = await api('/sagas/s-done/compensate', {
      method: 'POST',
      body: JSON.stringify({ reason: 'x' }),
    });
    expect(ended.status).toBe(409);
    expect(
      (
        await api('/sagas/nope/compensate', {
          method: 'POST',
          body: JSON.stringify({ reason: 'x' }),
        })
      ).status,
    ).toBe(404);
  });

  it('exposes saga counts as Prometheus metrics', async () => {
    const text = await (await api('/metrics')).text();
    expect(text).toMatch(/sagaflow_sagas\{type="order-placement",status="completed"\} 1/);
    expect(text).toMatch(/sagaflow_admin_process_cpu_seconds_total/);
  });
});
