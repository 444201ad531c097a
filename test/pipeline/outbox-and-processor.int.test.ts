import { eventsTopic, headerNames, type CommitRecord } from '@sagaflow/core';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deposit,
  foreignProducer,
  mirrors,
  startPipeline,
  uniqueDomain,
} from '../fixtures/pipeline.js';
import { readTopic } from '../fixtures/topic-reader.js';

const running: { stop(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function pipeline(
  options: Parameters<typeof startPipeline>[1] extends infer O ? Partial<O> : never = {},
) {
  const p = await startPipeline(testEnv(), {
    domain: uniqueDomain(),
    database: uniqueDatabase('pipe'),
    ...options,
  });
  running.push(p);
  return p;
}

describe('outbox relay and processors on Kafka, Apicurio and FerretDB', () => {
  it('publishes every committed event and each consumer applies it once, in per-entity order', async () => {
    const p = await pipeline();
    await p.startProcessor(p.mirrorProcessor);
    p.relay.start();
    await deposit(p, 8, 15);
    const expected = (15 * 16) / 2;
    const all = await waitFor(
      async () => {
        const m = await mirrors(p, 8);
        return m.every((s) => s?.state.applied.length === 15) ? m : undefined;
      },
      { timeoutMs: 60_000, description: 'every mirror to apply 15 deposits' },
    );
    for (const snapshot of all) {
      expect(snapshot!.state.applied).toEqual([...Array(15).keys()].map((i) => i + 1));
      expect(snapshot!.state.balance).toBe(expected);
      expect(snapshot!.version).toBe(15);
    }
    // The envelope of a published event.
    const reader = await readTopic(testEnv().kafkaBrokers, eventsTopic(p.account.type));
    running.push(reader);
    await waitFor(() => reader.messages.length >= 120, {
      timeoutMs: 30_000,
      description: '120 events',
    });
    const first = reader.messages.find(
      (m) => m.key === 'acc-0' && m.headers[headerNames.entityVersion] === '1',
    )!;
    expect(first.headers).toMatchObject({
      [headerNames.eventType]: 'Deposited',
      [headerNames.entityType]: p.account.type,
      [headerNames.entityId]: 'acc-0',
      [headerNames.schemaSubject]: 'io.sagaflow.test.demo.Deposited',
      [headerNames.causationId]: 'deposit-0-1',
      [headerNames.service]: `demo-${p.account.type.split('.')[0]}`,
    });
    expect(first.headers[headerNames.schemaVersion]).toMatch(/^\d+$/);
    expect(first.headers[headerNames.sagaId]).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.headers[headerNames.occurredAt]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(first.value!.readUInt8(0)).toBe(0);
    expect(await p.serde.decode('Deposited', first.value!)).toEqual({
      accountId: 'acc-0',
      amount: 1,
    });
  });

  it('does not publish a batch again after a failure between publish and mark: the checkpoint marks it', async () => {
    let failures = 0;
    let failedBatch: readonly CommitRecord[] = [];
    const p = await pipeline({
      relay: {
        batchSize: 10,
        afterPublish: (commits) => {
          if (failures === 0) {
            failures += 1;
            failedBatch = commits;
            throw new Error('relay failed after publishing, before marking');
          }
        },
      },
    });
    await deposit(p, 3, 10);
    const reader = await readTopic(testEnv().kafkaBrokers, eventsTopic(p.account.type));
    running.push(reader);
    p.relay.start();
    await waitFor(async () => (await p.store.unpublished(p.account.type, 1)).length === 0, {
      timeoutMs: 30_000,
      description: 'the outbox to drain',
    });
    expect(failedBatch).toHaveLength(10);
    await waitFor(() => reader.messages.length >= 30, {
      timeoutMs: 30_000,
      description: '30 events',
    });
    // Whatever else arrives, it would be here by the time a marker event published after it is.
    await p.entities.execute(
      p.account,
      'acc-0',
      'Deposit',
      { amount: 100 },
      { causationKey: 'marker' },
    );
    await waitFor(
      () => reader.messages.some((m) => m.headers[headerNames.causationId] === 'marker'),
      {
        timeoutMs: 30_000,
        description: 'the marker event',
      },
    );
    const ids = reader.messages.map((m) => m.eventId);
    expect(ids).toHaveLength(31);
    expect(new Set(ids).size).toBe(31);
  });

  it('applies a copy of an event published again at another offset only once', async () => {
    const outcomes: string[] = [];
    const p = await pipeline({ onMirrored: (status) => outcomes.push(status) });
    p.relay.start();
    await deposit(p, 2, 3);
    const reader = await readTopic(testEnv().kafkaBrokers, eventsTopic(p.account.type));
    running.push(reader);
    await waitFor(() => reader.messages.length >= 6, {
      timeoutMs: 30_000,
      description: '6 events',
    });
    // Another producer (a replay, a misbehaving bridge) sends exact copies of two events.
    const producer = await foreignProducer(testEnv());
    const copies = reader.messages.filter((m) => m.headers[headerNames.entityVersion] === '2');
    await producer.send({
      topic: eventsTopic(p.account.type),
      messages: copies.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
    });
    await producer.disconnect();
    await p.startProcessor(p.mirrorProcessor);
    await waitFor(() => outcomes.length === 8, { timeoutMs: 30_000, description: '8 deliveries' });
    expect(outcomes.filter((o) => o === 'committed')).toHaveLength(6);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(2);
    for (const snapshot of await mirrors(p, 2)) {
      expect(snapshot!.state.applied).toEqual([1, 2, 3]);
    }
  });

  it('applies nothing twice when a consumer group receives the same events again', async () => {
    const outcomes: string[] = [];
    const p = await pipeline({ onMirrored: (status) => outcomes.push(status) });
    p.relay.start();
    await deposit(p, 4, 5);
    const first = await p.startProcessor(p.mirrorProcessor);
    await waitFor(() => outcomes.length === 20, {
      timeoutMs: 30_000,
      description: 'first delivery',
    });
    expect(new Set(outcomes)).toEqual(new Set(['committed']));
    await first.stop();

    // Rewind the group to the start: every event is delivered again, as after a crash before
    // the offset commit.
    const group = p.runtime.groupOf(p.mirrorProcessor);
    const admin = new Kafka({
      brokers: [...testEnv().kafkaBrokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.resetOffsets({
      groupId: group,
      topic: eventsTopic(p.account.type),
      earliest: true,
    });
    await admin.disconnect();
    outcomes.length = 0;
    await p.startProcessor(p.mirrorProcessor);
    await waitFor(() => outcomes.length === 20, { timeoutMs: 30_000, description: 'redelivery' });
    expect(new Set(outcomes)).toEqual(new Set(['duplicate']));
    for (const snapshot of await mirrors(p, 4)) {
      expect(snapshot!.version).toBe(5);
      expect(snapshot!.state.balance).toBe(15);
    }
  });
});
