import {
  deadLetterRecordOf,
  eventsTopic,
  OutboxRelay,
  type Commit,
  type ReceivedMessage,
} from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde, waitFor } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

/** A commit whose event its schema refuses (a payload committed before the schema changed). */
const unencodable = (entityType: string, entityId: string, version: number): Commit => {
  const commit = depositCommit(entityType, entityId, version);
  return {
    ...commit,
    events: commit.events.map((e) => ({ ...e, payload: { accountId: entityId, amount: 'ten' } })),
  };
};

async function setup(deadLetterTopic?: string) {
  const { account } = demoDomain(`poison-${Math.random().toString(36).slice(2, 8)}`);
  const store = new MemoryEntityStore();
  const bus = new MemoryBus();
  const seen: ReceivedMessage[] = [];
  const topics = [
    eventsTopic(account.type),
    ...(deadLetterTopic === undefined ? [] : [deadLetterTopic]),
  ];
  await bus.ensureTopics(topics.map((topic) => ({ topic })));
  const subscription = await bus.subscribe({ groupId: 'reader', topics }, (m) => {
    seen.push(m);
    return Promise.resolve();
  });
  await subscription.ready;
  const relay = new OutboxRelay({
    relayId: 'poison-relay',
    store,
    publisher: bus,
    serde: new MemorySerde(await loadSchemaCatalog(demoSchemasDir)),
    entityTypes: [account.type],
    idleMs: 0,
    ...(deadLetterTopic === undefined ? {} : { deadLetterTopic }),
  });
  return { type: account.type, store, relay, seen };
}

it('sets a commit whose events cannot be encoded aside as a dead letter, and publishes the rest in order', async () => {
  const { type, store, relay, seen } = await setup('poison.relay.dlq');
  await store.append(depositCommit(type, 'good', 1));
  await store.append(unencodable(type, 'bad', 1));
  await store.append(depositCommit(type, 'bad', 2));
  await store.append(depositCommit(type, 'good', 2));
  // One batch, one transaction: the entity's next version goes with its set-aside version.
  expect(await relay.runOnce()).toBe(4);
  // Nothing is left in the outbox: the set-aside commit is marked too.
  expect(await store.unpublished(type, 10)).toEqual([]);
  await waitFor(() => seen.length === 4, { timeoutMs: 5000, description: 'four messages' });
  const events = seen.filter((m) => m.topic === eventsTopic(type));
  expect(events.map((m) => `${m.key}@${m.headers['sagaflow-entity-version']}`).sort()).toEqual([
    'bad@2',
    'good@1',
    'good@2',
  ]);
  const letters = seen.filter((m) => m.topic === 'poison.relay.dlq');
  expect(letters).toHaveLength(1);
  const letter = deadLetterRecordOf(letters[0]!);
  expect(letter).toMatchObject({
    // Where the index read it; the relay's own name for it stays in its headers.
    id: `poison.relay.dlq/${letters[0]!.partition}/${letters[0]!.offset}`,
    kind: 'commit',
    group: 'poison-relay',
    errorCode: 'SERDE_FAILED',
    sourceTopic: eventsTopic(type),
    eventType: 'Deposited',
    key: 'bad',
  });
  expect(letter?.reason).toMatch(/cannot be encoded.*amount/);
  const body = JSON.parse(Buffer.from(letter!.value, 'base64').toString('utf8')) as {
    version: number;
    events: { payload: unknown }[];
  };
  expect(body.version).toBe(1);
  expect(body.events[0]?.payload).toEqual({ accountId: 'bad', amount: 'ten' });
});

it('without a dead-letter topic, a commit that cannot be encoded fails the round and nothing is lost', async () => {
  const { type, store, relay } = await setup();
  await store.append(depositCommit(type, 'good', 1));
  await store.append(unencodable(type, 'bad', 1));
  await expect(relay.runOnce()).rejects.toThrow(/amount/);
  expect(
    (await store.unpublished(type, 10)).map((c) => `${c.entityId}@${c.version}`).sort(),
  ).toEqual(['bad@1', 'good@1']);
});
