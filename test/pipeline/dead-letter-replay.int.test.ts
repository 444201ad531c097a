import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdminApp } from '@sagaflow/admin';
import {
  deadLetterHeaders,
  DeadLetterIndexer,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  replayTopic,
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
  /** What another group on the same topic was handed: it handled each event the first time. */
  const tallied: number[] = [];
  let refuse = true;
  let dlq: string;
  let group: string;

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
    const tally = defineProcessor<{ Deposited: { accountId: string; amount: number } }>({
      name: 'tally',
      topics: [eventsTopic(p.account.type)],
      ignore: ['Flagged'],
      handlers: {
        Deposited: ({ payload }) => {
          tallied.push(payload.amount);
          return Promise.resolve();
        },
      },
    });
    group = p.runtime.groupOf(processor);
    dlq = deadLetterTopic(group);
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
    await p.startProcessor(tally);
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
      headers: {
        authorization: 'Bearer secret',
        'x-operator': 'bob',
        'content-type': 'application/json',
      },
    });

  it('lists a dead letter by source topic and replays it to the group that could not handle it, alone', async () => {
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
    const published = async () =>
      [...(await p.bus.endOffsets(source)).values()].reduce((a, b) => a + b, 0n);
    const sourceBefore = await published();
    const replay = await api(`/dead-letters/${encodeURIComponent(listed[0]!.id)}/replay`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'the handler is fixed' }),
    });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({
      id: listed[0]!.id,
      replayedTo: replayTopic(group),
      group,
      by: 'bob',
    });
    await waitFor(() => handled.includes(13), {
      timeoutMs: 30_000,
      description: 'the replayed event handled',
    });
    expect(handled).toEqual([5, 13]);
    // The other group on the source topic handled 13 when it came, and never saw the replay.
    expect(tallied).toEqual([13, 5]);
    expect(await published()).toBe(sourceBefore);
    expect((await store.get(listed[0]!.id))?.replays).toMatchObject([{ by: 'bob' }]);
    expect((await audit.recent(1))[0]).toMatchObject({
      action: 'dead-letter.replay',
      target: listed[0]!.id,
      by: 'bob',
    });
    expect(
      (
        await api('/dead-letters/nope/replay', {
          method: 'POST',
          body: JSON.stringify({ reason: 'try' }),
        })
      ).status,
    ).toBe(404);
    // A replay says why.
    const why = await api(`/dead-letters/${encodeURIComponent(listed[0]!.id)}/replay`, {
      method: 'POST',
    });
    expect(why.status).toBe(400);
    expect(await why.json()).toMatchObject({ error: { field: 'reason' } });
    expect((await api('/dead-letters?limit=0')).status).toBe(400);
  });

  it("indexes a forged record under where it was read, and replays it to the group's own replay topic only", async () => {
    const victim = `${eventsTopic(p.account.type)}.victim`;
    await p.bus.ensureTopics([{ topic: victim, partitions: 1 }]);
    const real = await waitFor(
      async () =>
        (await store.list({ limit: 10 })).letters.find((l) => l.eventType === 'Deposited'),
      { timeoutMs: 30_000, description: 'the real dead letter indexed' },
    );
    // Anyone who can write to the dead-letter topic stages a record: another letter's header id,
    // another group's name, a topic of its choosing, and bytes the group will be handed.
    const source = real.headers;
    await p.bus.publish([
      {
        topic: dlq,
        key: real.key ?? '',
        value: Buffer.from(real.value, 'base64'),
        headers: {
          ...source,
          // The id the group gave the real letter, as a writer can work it out.
          [deadLetterHeaders.id]: `${group}/${real.sourceTopic}/${real.sourcePartition}/${real.sourceOffset}`,
          [deadLetterHeaders.sourceTopic]: victim,
          [deadLetterHeaders.group]: 'another-service.payments',
          [deadLetterHeaders.reason]: 'forged',
        },
      },
    ]);
    const forged = await waitFor(
      async () =>
        (await store.list({ sourceTopic: victim, limit: 10 })).letters.find(
          (l) => l.reason === 'forged',
        ),
      { timeoutMs: 30_000, description: 'the forged record indexed' },
    );
    // Listed beside the real one, under its own position and the group of its topic.
    expect(forged.id).toMatch(new RegExp(`^${dlq.replaceAll('.', '\\.')}/0/\\d+$`));
    expect(forged.id).not.toBe(real.id);
    expect(forged.group).toBe(group);
    expect(await store.get(real.id)).toMatchObject({ reason: 'thirteen is not welcome today' });
    const replayed = handled.length;
    const replay = await api(`/dead-letters/${encodeURIComponent(forged.id)}/replay`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'the handler is fixed' }),
    });
    expect(await replay.json()).toMatchObject({ replayedTo: replayTopic(group) });
    await waitFor(() => handled.length > replayed, {
      timeoutMs: 30_000,
      description: 'the forged bytes handed to the group (and applied at most once)',
    });
    expect([...(await p.bus.endOffsets(victim)).values()].reduce((a, b) => a + b, 0n)).toBe(0n);
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
    const replay = await api(`/dead-letters/${encodeURIComponent(id)}/replay`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'try' }),
    });
    expect(replay.status).toBe(409);
    const body = (await replay.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('NOT_REPLAYABLE');
    expect(body.error.message).toMatch(/set aside because its events cannot be encoded/);
    expect((await store.get(id))?.replays).toEqual([]);
  });
});
