import { eventsTopic, OutboxRelay, type CommitRef, type RelayCheckpoint } from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

/** A store whose markings fail while `down` (a database restarting). */
class FlakyStore extends MemoryEntityStore {
  down = false;
  override markPublished(entityType: string, refs: readonly CommitRef[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('the database is restarting'));
    return super.markPublished(entityType, refs);
  }
}

/**
 * A bus whose publishes fail while `down` (a broker restarting), and whose checkpoint reads show
 * nothing while `lagging`: a group coordinator that has not loaded the relay's offsets yet.
 */
class FlakyBus extends MemoryBus {
  down = false;
  lagging = false;
  override publish(...args: Parameters<MemoryBus['publish']>): Promise<void> {
    if (this.down) return Promise.reject(new Error('the broker is restarting'));
    return super.publish(...args);
  }
  override readCheckpoint(relayId: string): Promise<RelayCheckpoint | undefined> {
    return this.lagging ? Promise.resolve(undefined) : super.readCheckpoint(relayId);
  }
}

it('marks a batch it published whose marking failed, also when the checkpoint it recovers from reads older', async () => {
  const { account } = demoDomain('relay-owed');
  const store = new FlakyStore();
  const bus = new FlakyBus();
  const serde = new MemorySerde(await loadSchemaCatalog(demoSchemasDir));
  const relay = new OutboxRelay({
    relayId: 'owed-relay',
    store,
    publisher: bus,
    serde,
    entityTypes: [account.type],
    idleMs: 60_000,
  });
  const commit = async (version: number) => {
    const made = depositCommit(account.type, 'acc', version);
    await store.append(made);
    relay.notify(made);
  };
  const published = async () =>
    [...(await bus.endOffsets(eventsTopic(account.type))).values()].reduce((a, b) => a + b, 0n);

  // Version 1 is published; its marking fails (the database restarts under it).
  await commit(1);
  store.down = true;
  expect(await relay.runOnce()).toBe(1);
  // Version 2's publish fails (the broker restarts too), before the relay learns of the failed
  // marking.
  await commit(2);
  bus.down = true;
  await expect(relay.runOnce()).rejects.toThrow(/broker is restarting/);
  // Both servers are back, but the checkpoint reads as if nothing was published.
  store.down = false;
  bus.down = false;
  bus.lagging = true;
  expect(await relay.runOnce()).toBe(1);
  bus.lagging = false;
  await relay.runOnce();
  // Each event published once, and nothing left in the outbox (a marker left behind would make a
  // command sent again wait for its commit's publication forever).
  expect(await published()).toBe(2n);
  expect(await store.unpublished(account.type, 10)).toEqual([]);
  await relay.stop();
});
