import { eventsTopic, OutboxRelay, type CommitRef } from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde, waitFor } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

/** A store whose first marking waits until released: a slow database, or a process about to die. */
class SlowMarkingStore extends MemoryEntityStore {
  marks = 0;
  release: () => void = () => {};
  readonly #gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  override async markPublished(entityType: string, refs: readonly CommitRef[]): Promise<void> {
    this.marks += 1;
    if (this.marks === 1) await this.#gate;
    return super.markPublished(entityType, refs);
  }
}

it('publishes the next batch while the last one is being marked, and a relay that dies before either is marked publishes neither again', async () => {
  const { account } = demoDomain('pipelined');
  const store = new SlowMarkingStore();
  const bus = new MemoryBus();
  const serde = new MemorySerde(await loadSchemaCatalog(demoSchemasDir));
  const commit = async (version: number, relay: OutboxRelay) => {
    const made = depositCommit(account.type, 'acc', version);
    await store.append(made);
    // As the entity service does: the relay gets the commit in memory.
    relay.notify(made);
  };
  const relayOf = () =>
    new OutboxRelay({
      relayId: 'pipelined-relay',
      store,
      publisher: bus,
      serde,
      entityTypes: [account.type],
      batchSize: 2,
      // No reads of the outbox but the first one: commits are handed over in memory.
      idleMs: 60_000,
    });
  const published = async () =>
    [...(await bus.endOffsets(eventsTopic(account.type))).values()].reduce((a, b) => a + b, 0n);

  const first = relayOf();
  for (let v = 1; v <= 4; v += 1) await commit(v, first);
  first.start();
  // The first batch's marking hangs; the second batch goes out meanwhile.
  await waitFor(async () => (await published()) === 4n, {
    timeoutMs: 3_000,
    description: 'both batches published while the first is being marked',
  });
  expect(store.marks).toBe(1);
  expect(await store.unpublished(account.type, 10)).toHaveLength(4);

  // The process dies here (its relay never marks anything). The next one marks both batches from
  // the checkpoint and the recorded batches, and publishes nothing again.
  const second = relayOf();
  expect(await second.runOnce()).toBe(0);
  expect(await store.unpublished(account.type, 10)).toHaveLength(0);
  expect(await published()).toBe(4n);

  // The entity goes on: its next commit is published once, after the others.
  await commit(5, second);
  expect(await second.runOnce()).toBe(1);
  expect(await published()).toBe(5n);
  store.release();
  await first.stop();
  await second.stop();
});
