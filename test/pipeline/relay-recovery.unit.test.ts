import type { CommitRef, RelayCheckpoint } from '@sagaflow/core';
import { MemoryBus, MemoryBusClient, MemoryEntityStore } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { accountRelays } from '../fixtures/account-relay.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

/**
 * A store whose markings fail while `down` (a database restarting), and whose batch records fail
 * while `recordsFail`, a moment after they were asked for.
 */
class FlakyStore extends MemoryEntityStore {
  down = false;
  recordsFail = false;
  override markPublished(entityType: string, refs: readonly CommitRef[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('the database is restarting'));
    return super.markPublished(entityType, refs);
  }
  override async saveRelayBatch(
    ...args: Parameters<MemoryEntityStore['saveRelayBatch']>
  ): Promise<void> {
    if (!this.recordsFail) return super.saveRelayBatch(...args);
    await new Promise<void>((resolve) => setImmediate(resolve));
    throw new Error('the batch record could not be written');
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
  const store = new FlakyStore();
  const bus = new FlakyBus();
  const { account, relayOf, published } = await accountRelays('relay-owed', store);
  const relay = relayOf(bus);
  const commit = async (version: number) => {
    const made = depositCommit(account.type, 'acc', version);
    await store.append(made);
    relay.notify(made);
  };
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
  expect(await published(bus)).toBe(2n);
  expect(await store.unpublished(account.type, 10)).toEqual([]);
  await relay.stop();
});

it('publishes nothing of a batch whose record could not be written while it was sent, and publishes it once later', async () => {
  const store = new FlakyStore();
  const bus = new MemoryBus();
  const { account, relayOf, published } = await accountRelays('relay-unrecorded', store);
  const relay = relayOf(bus);
  const made = depositCommit(account.type, 'acc', 1);
  await store.append(made);
  relay.notify(made);

  store.recordsFail = true;
  await expect(relay.runOnce()).rejects.toThrow(/batch record could not be written/);
  expect(await published(bus)).toBe(0n);
  expect(await bus.readCheckpoint('relay-unrecorded-relay')).toBeUndefined();
  store.recordsFail = false;
  expect(await relay.runOnce()).toBe(1);
  expect(await relay.runOnce()).toBe(0);
  expect(await published(bus)).toBe(1n);
  expect(await store.unpublished(account.type, 10)).toEqual([]);
  await relay.stop();
});

/** A client whose next publish waits at a gate until let through. */
class GatedClient extends MemoryBusClient {
  #open: (() => void) | undefined;
  #arrived: (() => void) | undefined;
  /** Resolves when the next publish reaches the gate. */
  readonly arrived = new Promise<void>((resolve) => (this.#arrived = resolve));
  override async publish(...args: Parameters<MemoryBus['publish']>): Promise<void> {
    const gate = new Promise<void>((resolve) => (this.#open = resolve));
    this.#arrived?.();
    await gate;
    return super.publish(...args);
  }
  letThrough(): void {
    this.#open?.();
  }
}

/*
 * A shard moves to another process while its previous relay has a batch in hand: the new relay
 * reads the checkpoint and the outbox, publishes the batch's commits and marks them; the old
 * relay's publish then comes too late and must not go out a second time.
 */
it('publishes nothing more from a relay whose shard another process took over while it had a batch in hand', async () => {
  const store = new MemoryEntityStore();
  const bus = new MemoryBus();
  const { account, relayOf, published } = await accountRelays('relay-takeover', store);
  const old = new GatedClient(bus);
  const before = relayOf(old);
  const after = relayOf(new MemoryBusClient(bus));
  await store.append(depositCommit(account.type, 'acc', 1));

  const inHand = before.runOnce();
  await old.arrived;
  expect(await after.runOnce()).toBe(1);
  old.letThrough();
  await expect(inHand).rejects.toMatchObject({ code: 'PUBLISH_FAILED' });
  // Back at work (it has not learnt yet that the shard moved), it finds nothing left to publish.
  expect(await before.runOnce()).toBe(0);
  expect(await published(bus)).toBe(1n);
  expect(await store.unpublished(account.type, 10)).toEqual([]);
  await Promise.all([before.stop(), after.stop()]);
});
