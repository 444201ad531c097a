import { eventsTopic, shardOf, ShardedRelay, type ReceivedMessage } from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import {
  MemoryBus,
  MemoryBusClient,
  MemoryEntityStore,
  MemorySerde,
  waitFor,
} from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

it("shares the shards between two processes' relays, each commit published once and in order, and hands a stopped one's shards over", async () => {
  const { account } = demoDomain('sharded');
  const store = new MemoryEntityStore();
  const bus = new MemoryBus();
  const serde = new MemorySerde(await loadSchemaCatalog(demoSchemasDir));
  await bus.ensureTopics([{ topic: eventsTopic(account.type) }]);
  const received: ReceivedMessage[] = [];
  const reader = await bus.subscribe(
    { groupId: 'reader', topics: [eventsTopic(account.type)] },
    (m) => {
      received.push(m);
      return Promise.resolve();
    },
  );
  const relayOf = () =>
    new ShardedRelay({
      relayId: 'sharded-relay',
      store,
      publisher: bus,
      serde,
      entityTypes: [account.type],
      shards: 4,
      claims: new MemoryBusClient(bus),
      idleMs: 10,
    });
  const [a, b] = [relayOf(), relayOf()];
  await a.start();
  await b.start();
  expect([...a.owned, ...b.owned].sort()).toEqual([0, 1, 2, 3]);
  expect(a.owned.length).toBe(2);

  // Twelve accounts, three versions each, written by either process and handed to its relay.
  const ids = Array.from({ length: 12 }, (_, i) => `acc-${i}`);
  expect(new Set(ids.map((id) => shardOf(id, 4))).size).toBeGreaterThan(2);
  const write = async (from: number, to: number) => {
    for (let version = from; version <= to; version += 1) {
      for (const [i, id] of ids.entries()) {
        const commit = depositCommit(account.type, id, version);
        await store.append(commit);
        (i % 2 === 0 ? a : b).notify(commit);
      }
    }
  };
  await write(1, 3);
  await waitFor(() => received.length >= 36, { timeoutMs: 5000, description: '36 events' });

  // b stops: a takes its shards and publishes what comes next.
  await b.stop();
  expect(a.owned).toEqual([0, 1, 2, 3]);
  await write(4, 5);
  await waitFor(() => received.length >= 60, { timeoutMs: 5000, description: '60 events' });
  await a.stop();
  await reader.stop();

  expect(new Set(received.map((m) => m.headers['sagaflow-event-id'])).size).toBe(60);
  expect(received).toHaveLength(60);
  for (const id of ids) {
    const versions = received
      .filter((m) => m.key === id)
      .map((m) => Number(m.headers['sagaflow-entity-version']));
    expect(versions).toEqual([1, 2, 3, 4, 5]);
  }
  expect((await store.outboxBacklog(account.type)).pending).toBe(0);
});
