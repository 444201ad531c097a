import type { Commit } from '@sagaflow/core';
import { MemoryBus, MemoryEntityStore } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { accountRelays } from '../fixtures/account-relay.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

/** A store that counts the relay's reads of its outbox. */
class CountingStore extends MemoryEntityStore {
  reads = 0;
  override unpublished(...args: Parameters<MemoryEntityStore['unpublished']>) {
    this.reads += 1;
    return super.unpublished(...args);
  }
}

it('publishes the commit after a silent change in memory, in the same batch, without reading the outbox', async () => {
  const store = new CountingStore();
  const bus = new MemoryBus();
  // No reads of the outbox but the first one: commits are handed over in memory.
  const { account, relayOf, published: publishedOn } = await accountRelays('silent-chain', store);
  const relay = relayOf(bus);
  const commit = async (made: Commit) => {
    await store.append(made);
    relay.notify(made);
  };
  const published = () => publishedOn(bus);

  await commit(depositCommit(account.type, 'acc', 1));
  expect(await relay.runOnce()).toBe(1);
  const reads = store.reads;
  // Version 3 is a silent change made while version 2 waits to be published (a settled order
  // leaving the state under load): version 4 follows it.
  await commit(depositCommit(account.type, 'acc', 2));
  await commit({ ...depositCommit(account.type, 'acc', 3), events: [], silent: true });
  await commit(depositCommit(account.type, 'acc', 4));
  expect(await relay.runOnce()).toBe(3);
  expect(await published()).toBe(3n);
  expect(store.reads).toBe(reads);
  expect(await store.unpublished(account.type, 10)).toEqual([]);
  // And a silent change right after the published version counts as published at once.
  await commit({ ...depositCommit(account.type, 'acc', 5), events: [], silent: true });
  await commit(depositCommit(account.type, 'acc', 6));
  expect(await relay.runOnce()).toBe(1);
  expect(await published()).toBe(4n);
  expect(store.reads).toBe(reads + 1);
});
