import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdminApp } from '@sagaflow/admin';
import {
  DeadLetterIndexer,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  SagaflowError,
} from '@sagaflow/core';
import { MongoAuditLog, MongoDeadLetterStore, MongoSagaViewStore } from '@sagaflow/mongodb';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, uniqueDomain, type Pipeline } from '../fixtures/pipeline.js';

describe('dead letters through the admin API: listed, replayed, audited', () => {
  let p: Pipeline;
  let server: Server;
  let base: string;
  let indexer: DeadLetterIndexer;
  let audit: MongoAuditLog;
  let store: MongoDeadLetterStore;
  const handled: number[] = [];
  let refuse = true;

  beforeAll(async () => {
    p = await startPipeline(testEnv(), {
      domain: uniqueDomain(),
      database: uniqueDatabase('replay'),
    });
    const processor = defineProcessor<{ Deposited: { accountId: string; amount: number } }>({
      name: 'fussy',
      topics: [eventsTopic(p.account.type)],
      ignore: ['Flagged'],
      handlers: {
        Deposited: ({ payload }) => {
          if (payload.amount === 13 && refuse) {
            return Promise.reject(
              new SagaflowError('COMMAND_REJECTED', 'thirteen is not welcome today'),
            );
          }
          handled.push(payload.amount);
          return Promise.resolve();
        },
      },
    });
    const dlq = deadLetterTopic(p.runtime.groupOf(processor));
    await p.bus.ensureTopics([{ topic: dlq, partitions: 1 }]);
    const db = p.client.db(uniqueDatabase('admin'));
    store = new MongoDeadLetterStore(db);
    audit = new MongoAuditLog(db);
    indexer = new DeadLetterIndexer({
      subscriber: p.bus,
      store,
      topics: [dlq],
      groupId: `dlq-index-${p.account.type}`,
    });
    await indexer.start();
    await p.startProcessor(processor);
    p.relay.start();
    const app = createAdminApp({
      views: new MongoSagaViewStore(db),
      audit,
      token: 'secret',
      requestCompensation: () => Promise.resolve(undefined),
      readiness: () => Promise.resolve({ ready: true, checks: {} }),
      deadLetters: { store, publisher: p.bus },
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await indexer.stop();
    await p.stop();
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { authorization: 'Bearer secret', 'x-operator': 'bob' },
    });

  it('lists a dead letter by source topic and replays it to that topic', async () => {
    await p.entities.execute(p.account, 'acc-1', 'Deposit', { amount: 13 });
    await p.entities.execute(p.account, 'acc-1', 'Deposit', { amount: 5 });
    await waitFor(() => handled.includes(5), {
      timeoutMs: 30_000,
      description: 'the event after the refused one',
    });
    const source = eventsTopic(p.account.type);
    const listed = await waitFor(
      async () => {
        const body = (await (await api(`/dead-letters?topic=${source}`)).json()) as {
          deadLetters: {
            id: string;
            reason: string;
            eventType: string;
            sourceTopic: string;
            attempts: number;
          }[];
        };
        return body.deadLetters.length === 1 ? body.deadLetters : undefined;
      },
      { timeoutMs: 30_000, description: 'the dead letter in the index' },
    );
    expect(listed[0]).toMatchObject({
      reason: 'thirteen is not welcome today',
      eventType: 'Deposited',
      sourceTopic: source,
      attempts: 1,
    });
    expect(
      ((await (await api('/dead-letters?topic=other.topic')).json()) as { deadLetters: unknown[] })
        .deadLetters,
    ).toEqual([]);

    refuse = false;
    const replay = await api(`/dead-letters/${encodeURIComponent(listed[0]!.id)}/replay`, {
      method: 'POST',
    });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ id: listed[0]!.id, replayedTo: source, by: 'bob' });
    await waitFor(() => handled.includes(13), {
      timeoutMs: 30_000,
      description: 'the replayed event handled',
    });
    expect(handled).toEqual([5, 13]);
    expect((await store.get(listed[0]!.id))?.replays).toMatchObject([{ by: 'bob' }]);
    expect((await audit.recent(1))[0]).toMatchObject({
      action: 'dead-letter.replay',
      target: listed[0]!.id,
      by: 'bob',
    });
    expect((await api('/dead-letters/nope/replay', { method: 'POST' })).status).toBe(404);
    expect((await api('/dead-letters?limit=0')).status).toBe(400);
  });

  it('refuses to replay a commit the relay set aside, saying why, and records no replay', async () => {
    const id = `commit/${p.account.type}/poisoned@3`;
    await store.record({
      id,
      kind: 'commit',
      group: 'test-service.relay',
      sourceTopic: eventsTopic(p.account.type),
      sourcePartition: -1,
      sourceOffset: 'version 3',
      reason: 'its events cannot be encoded, so the relay set it aside: invalid Deposited',
      errorCode: 'SERDE_FAILED',
      attempts: 1,
      failedAt: new Date().toISOString(),
      key: 'poisoned',
      value: Buffer.from('{"version":3}').toString('base64'),
      headers: {},
      replays: [],
    });
    expect((await store.get(id))?.kind).toBe('commit');
    const replay = await api(`/dead-letters/${encodeURIComponent(id)}/replay`, { method: 'POST' });
    expect(replay.status).toBe(409);
    const body = (await replay.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('NOT_REPLAYABLE');
    expect(body.error.message).toMatch(/set aside because its events cannot be encoded/);
    expect((await store.get(id))?.replays).toEqual([]);
  });
});
