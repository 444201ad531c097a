import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { AuditEntry, SagaView } from '@sagaflow/core';
import { MemoryAuditLog, MemorySagaViewStore } from '@sagaflow/testing/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminApp, type AdminOptions } from '../src/admin-app.js';

/** An audit log whose writes can be made to fail, as a database that is down. */
class FlakyAudit extends MemoryAuditLog {
  down = false;
  override record(entry: AuditEntry) {
    return this.down ? Promise.reject(new Error('database down')) : super.record(entry);
  }
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

const running = (sagaId: string): SagaView => ({
  sagaId,
  type: 'order-placement',
  status: 'running',
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  steps: [],
  timeline: [],
});

async function admin(extra: Partial<AdminOptions> = {}) {
  const views = new MemorySagaViewStore();
  await views.writeViews([running('s-1'), { ...running('s-2'), status: 'completed' }]);
  const audit = new FlakyAudit();
  const requested: string[] = [];
  const app = createAdminApp({
    views,
    audit,
    token: 'shared-secret',
    operatorTokens: { alice: 'alice-secret' },
    readToken: 'read-secret',
    requestCompensation: (sagaId) => {
      requested.push(sagaId);
      return Promise.resolve(undefined);
    },
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    ...extra,
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = (path: string, token: string | null, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  const compensate = (sagaId: string, token: string | null, operator?: string) =>
    call(`/sagas/${sagaId}/compensate`, token, {
      method: 'POST',
      body: JSON.stringify({ reason: 'customer called' }),
      ...(operator === undefined ? {} : { headers: { 'x-operator': operator } }),
    });
  return { audit, requested, call, compensate };
}

describe('the audit log and the tokens of the admin API', () => {
  it('shows the audit trail, newest first, of everything or of one saga, to a reader too', async () => {
    const { call, compensate } = await admin();
    expect((await compensate('s-1', 'alice-secret')).status).toBe(202);
    expect((await compensate('s-2', 'shared-secret', 'bob')).status).toBe(409);
    const all = (await (await call('/audit', 'read-secret')).json()) as { entries: AuditEntry[] };
    expect(all.entries.map((e) => [e.target, e.outcome])).toEqual([
      ['s-2', 'refused'],
      ['s-2', 'requested'],
      ['s-1', 'done'],
      ['s-1', 'requested'],
    ]);
    const one = (await (await call('/audit?target=s-1&limit=1', 'read-secret')).json()) as {
      entries: AuditEntry[];
    };
    expect(one.entries).toEqual([
      expect.objectContaining({
        action: 'saga.compensate',
        target: 's-1',
        by: 'alice',
        outcome: 'done',
        details: expect.objectContaining({ reason: 'customer called' }) as unknown,
      }),
    ]);
    const bad = await call('/audit?limit=0', 'read-secret');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('limit');
    expect((await call('/audit', null)).status).toBe(401);
  });

  it("shows a saga's trail however many actions on others came after it", async () => {
    const { audit, call, compensate } = await admin();
    expect((await compensate('s-1', 'alice-secret')).status).toBe(202);
    for (let i = 0; i < 1_200; i += 1) {
      await audit.record({
        action: 'dead-letter.replay',
        target: `letter-${i}`,
        by: 'bob',
        at: new Date(Date.UTC(2027, 0, 1, 0, 0, 0, i)).toISOString(),
        outcome: 'done',
      });
    }
    const trail = (await (await call('/audit?target=s-1', 'read-secret')).json()) as {
      entries: AuditEntry[];
    };
    expect(trail.entries.map((e) => [e.target, e.by, e.outcome])).toEqual([
      ['s-1', 'alice', 'done'],
      ['s-1', 'alice', 'requested'],
    ]);
  });

  it('records the intent before an action and its outcome after, with the caller and the name a named token proves', async () => {
    const { audit, requested, compensate } = await admin();
    expect((await compensate('s-1', 'alice-secret', 'mallory')).status).toBe(202);
    expect(requested).toEqual(['s-1']);
    const [done, intent] = await audit.recent(2);
    expect(intent).toMatchObject({
      action: 'saga.compensate',
      target: 's-1',
      by: 'alice',
      outcome: 'requested',
      address: expect.stringMatching(/127\.0\.0\.1/) as string,
      details: { reason: 'customer called', credential: 'alice', claimed: 'mallory' },
    });
    expect(done).toMatchObject({ action: 'saga.compensate', by: 'alice', outcome: 'done' });
    // The shared token records the name its holder gives.
    expect((await compensate('s-1', 'shared-secret', 'bob')).status).toBe(202);
    expect((await audit.recent(1))[0]).toMatchObject({ by: 'bob', outcome: 'done' });
  });

  it('does nothing when the intent cannot be recorded', async () => {
    const { audit, requested, compensate } = await admin();
    audit.down = true;
    const response = await compensate('s-1', 'alice-secret');
    expect(response.status).toBe(500);
    expect(requested).toEqual([]);
  });

  it('lets a read-only token read, and refuses and records its actions', async () => {
    const { audit, requested, call, compensate } = await admin();
    expect((await call('/sagas', 'read-secret')).status).toBe(200);
    expect((await call('/sagas/s-1', 'read-secret')).status).toBe(200);
    const refused = await compensate('s-1', 'read-secret', 'eve');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'READ_ONLY' } });
    expect(requested).toEqual([]);
    expect((await audit.recent(1))[0]).toMatchObject({
      action: 'saga.compensate',
      target: 's-1',
      outcome: 'refused',
      details: { credential: 'reader', status: 403, code: 'READ_ONLY' },
    });
  });

  it('records refusals: a saga that cannot take the action, a wrong token, no token', async () => {
    const { audit, compensate } = await admin();
    expect((await compensate('s-2', 'alice-secret')).status).toBe(409);
    expect((await audit.recent(1))[0]).toMatchObject({
      target: 's-2',
      by: 'alice',
      outcome: 'refused',
      details: { status: 409, code: 'SAGA_ENDED' },
    });
    expect((await compensate('s-1', 'guessed', 'root')).status).toBe(403);
    expect((await audit.recent(1))[0]).toMatchObject({
      target: 's-1',
      by: 'unauthenticated (says root)',
      outcome: 'refused',
      details: { credential: 'none', status: 403, code: 'FORBIDDEN' },
    });
  });

  it('refuses tokens that are the same, or an operator name it cannot record', async () => {
    await expect(admin({ readToken: 'shared-secret' })).rejects.toThrow(
      'token each token must be different from the others',
    );
    await expect(admin({ operatorTokens: { 'a b': 'x-secret' } })).rejects.toThrow(
      /operatorTokens names 'a b'/,
    );
  });
});
