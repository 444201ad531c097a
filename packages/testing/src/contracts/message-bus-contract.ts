import type {
  BusMessage,
  MessagePublisher,
  MessageSubscriber,
  OffsetReader,
  ReceivedMessage,
  ShardClaims,
  Subscription,
  TopicAdmin,
} from '@sagaflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueGroupId, uniqueName, uniqueTopic } from '../names.js';
import { waitFor } from '../wait-for.js';

/** What the bus contract needs of an implementation. */
export type ContractBus = MessagePublisher &
  MessageSubscriber &
  OffsetReader &
  TopicAdmin &
  ShardClaims;

const message = (topic: string, key: string, n: number): BusMessage => ({
  topic,
  key,
  value: Buffer.from([0, 255, n, 10, 13]),
  headers: { 'sagaflow-event-id': `${key}/${n}`, 'x-n': String(n) },
});

/**
 * The behaviour every message bus must have. Run it against each implementation: the in-memory
 * one earns trust by passing the same tests as the Kafka one.
 */
export function messageBusContract(
  name: string,
  makeBus: () => ContractBus | Promise<ContractBus>,
  options: {
    timeoutMs?: number;
    /** Another process's client of the same bus. @default another `makeBus()` */
    peerOf?: (bus: ContractBus) => ContractBus;
  } = {},
) {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const peerOf = options.peerOf ?? (() => makeBus());
  describe(`message bus contract: ${name}`, () => {
    const open: { stop?: () => Promise<void>; close?: () => Promise<void> }[] = [];
    afterEach(async () => {
      for (const item of open.splice(0).reverse()) {
        if (item.stop !== undefined) await item.stop();
        else await item.close?.();
      }
    });

    const setup = async (partitions = 3) => {
      const bus = await makeBus();
      open.push(bus);
      const topic = uniqueTopic('contract');
      await bus.ensureTopics([{ topic, partitions }]);
      return { bus, topic };
    };

    const consume = async (
      bus: ContractBus,
      groupId: string,
      topic: string,
      onMessage: (m: ReceivedMessage) => Promise<void> | void = () => {},
    ) => {
      const received: ReceivedMessage[] = [];
      const subscription: Subscription = await bus.subscribe(
        { groupId, topics: [topic] },
        async (m) => {
          await onMessage(m);
          received.push(m);
        },
      );
      open.push(subscription);
      await subscription.ready;
      return { received, subscription };
    };

    it('delivers every message of a batch once, in order per key, bytes and headers intact', async () => {
      const { bus, topic } = await setup();
      const batch = [0, 1, 2, 3, 4].flatMap((n) =>
        ['a', 'b', 'c', 'd'].map((k) => message(topic, k, n)),
      );
      await bus.publish(batch);
      const { received } = await consume(bus, uniqueGroupId(), topic);
      await waitFor(() => received.length >= 20, { timeoutMs, description: '20 messages' });
      expect(received).toHaveLength(20);
      for (const key of ['a', 'b', 'c', 'd']) {
        const mine = received.filter((m) => m.key === key);
        expect(mine.map((m) => m.headers['x-n'])).toEqual(['0', '1', '2', '3', '4']);
        expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
        expect([...mine[2]!.value!]).toEqual([0, 255, 2, 10, 13]);
        expect(mine[2]!.headers['sagaflow-event-id']).toBe(`${key}/2`);
      }
    });

    it('resumes a group from its committed offsets', async () => {
      const { bus, topic } = await setup();
      const groupId = uniqueGroupId();
      await bus.publish([0, 1, 2, 3, 4].map((n) => message(topic, 'k', n)));
      const first = await consume(bus, groupId, topic);
      await waitFor(() => first.received.length === 5, { timeoutMs, description: 'first 5' });
      await waitFor(async () => (await bus.committedOffsets(groupId, topic)).size > 0, {
        timeoutMs,
        description: 'committed offsets',
      });
      await first.subscription.stop();
      const committed = await bus.committedOffsets(groupId, topic);
      // Past the 5 messages; on a transactional topic, also past the commit marker after them
      // (the end offsets count markers too), so that a group that has read everything has no lag.
      const sum = (offsets: ReadonlyMap<number, bigint>) =>
        [...offsets.values()].reduce((a, b) => a + b, 0n);
      expect(sum(committed)).toBeGreaterThanOrEqual(5n);
      const ends = await bus.endOffsets(topic);
      expect(ends.size).toBeGreaterThan(0);
      for (const [partition, end] of ends) {
        expect(end).toBeGreaterThanOrEqual(committed.get(partition) ?? 0n);
      }
      expect(sum(ends)).toBe(sum(committed));

      await bus.publish([5, 6].map((n) => message(topic, 'k', n)));
      const second = await consume(bus, groupId, topic);
      await waitFor(() => second.received.length === 2, {
        timeoutMs,
        description: 'the 2 new ones',
      });
      expect(second.received.map((m) => m.headers['x-n'])).toEqual(['5', '6']);
    });

    it('delivers a message again when its handler failed, and keeps the order behind it', async () => {
      const { bus, topic } = await setup(1);
      await bus.publish([0, 1, 2].map((n) => message(topic, 'k', n)));
      let failures = 0;
      const { received } = await consume(bus, uniqueGroupId(), topic, (m) => {
        if (m.headers['x-n'] === '1' && failures === 0) {
          failures += 1;
          throw new Error('handler failed once');
        }
      });
      await waitFor(() => received.length >= 3, { timeoutMs, description: '3 handled' });
      expect(failures).toBe(1);
      expect(received.map((m) => m.headers['x-n'])).toEqual(['0', '1', '2']);
    });

    it("shares shards among the processes that claim them, and hands a leaver's to the rest", async () => {
      const a = await makeBus();
      open.push(a);
      const b = await peerOf(a);
      open.push(b);
      const name = uniqueName('sharded');
      const owned = { a: [] as readonly number[], b: [] as readonly number[] };
      const claim = (bus: ContractBus, who: 'a' | 'b') =>
        bus.claimShards({
          name,
          count: 4,
          onAssigned: (shards) => {
            owned[who] = shards;
            return Promise.resolve();
          },
        });
      const claimA = await claim(a, 'a');
      await claimA.ready;
      expect(owned.a).toEqual([0, 1, 2, 3]);
      const claimB = await claim(b, 'b');
      await claimB.ready;
      // Each shard has one owner, and each process owns some.
      await waitFor(
        () =>
          owned.a.length > 0 &&
          owned.b.length > 0 &&
          [...owned.a, ...owned.b].sort().join() === '0,1,2,3',
        { timeoutMs, description: 'the shards shared by both' },
      );
      await claimB.stop();
      expect(owned.b).toEqual([]);
      await waitFor(() => owned.a.length === 4, { timeoutMs, description: 'all shards to a' });
      await claimA.stop();
      expect(owned.a).toEqual([]);
      // The service restarted with another shard count claims afresh.
      let afresh: readonly number[] = [];
      const again = await b.claimShards({
        name,
        count: 3,
        onAssigned: (shards) => {
          afresh = shards;
          return Promise.resolve();
        },
      });
      open.push(again);
      await again.ready;
      expect(afresh).toEqual([0, 1, 2]);
    });

    it('keeps the latest relay checkpoint, published with its batch', async () => {
      const { bus, topic } = await setup();
      const relayId = uniqueName('relay');
      expect(await bus.readCheckpoint(relayId)).toBeUndefined();
      await bus.publish([message(topic, 'k', 1)], {
        checkpoint: { relayId, value: { sequence: 1, instance: 'one' } },
      });
      await bus.publish([message(topic, 'k', 2)], {
        checkpoint: { relayId, value: { sequence: 2, instance: 'one' } },
      });
      await bus.publish([message(topic, 'k', 3)]);
      expect(await bus.readCheckpoint(relayId)).toEqual({ sequence: 2, instance: 'one' });
      expect(await bus.readCheckpoint(`${relayId}-other`)).toBeUndefined();
    });

    it('commits a batch only once what it was told to wait for resolved, and never when that rejected', async () => {
      const { bus, topic } = await setup(1);
      const relayId = uniqueName('relay');
      const { received } = await consume(bus, uniqueGroupId('gated'), topic);
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const sent = bus.publish([message(topic, 'k', 1)], {
        checkpoint: { relayId, value: { sequence: 1, instance: 'one' } },
        beforeCommit: gate,
      });
      // Unpublished while the gate is shut: a batch sent after it, without a gate, overtakes it.
      await bus.publish([message(topic, 'other', 2)]);
      await waitFor(() => received.length >= 1, { timeoutMs, description: 'the ungated batch' });
      expect(received.map((m) => m.headers['x-n'])).toEqual(['2']);
      release();
      await sent;
      await waitFor(() => received.length >= 2, { timeoutMs, description: 'the gated batch' });
      expect(await bus.readCheckpoint(relayId)).toEqual({ sequence: 1, instance: 'one' });
      // A gate that rejects: nothing is published, the checkpoint stays, and the reason comes back.
      const reason = new Error('the batch record could not be written');
      const refused = Promise.reject(reason);
      refused.catch(() => {});
      await expect(
        bus.publish([message(topic, 'k', 3)], {
          checkpoint: { relayId, value: { sequence: 2, instance: 'one' } },
          beforeCommit: refused,
        }),
      ).rejects.toBe(reason);
      // The bus goes on: the next batch is delivered, right after the first two.
      await bus.publish([message(topic, 'k', 4)], {
        checkpoint: { relayId, value: { sequence: 3, instance: 'one' } },
      });
      await waitFor(() => received.length >= 3, { timeoutMs, description: 'the next batch' });
      expect(received.map((m) => m.headers['x-n'])).toEqual(['2', '1', '4']);
      expect(await bus.readCheckpoint(relayId)).toEqual({ sequence: 3, instance: 'one' });
    });

    /*
     * A relay taking a shard over reads its checkpoint, then the outbox: a batch its previous
     * holder published after that read would be published again by the new one.
     */
    it("takes a relay over by reading its checkpoint: the previous holder's next batch fails and is never delivered", async () => {
      const { bus: a, topic } = await setup(1);
      const b = await peerOf(a);
      open.push(b);
      const relayId = uniqueName('relay');
      const batch = (bus: ContractBus, n: number, instance: string) =>
        bus.publish([message(topic, 'k', n)], {
          checkpoint: { relayId, value: { sequence: n, instance } },
        });
      await batch(a, 1, 'a');
      expect(await b.readCheckpoint(relayId)).toEqual({ sequence: 1, instance: 'a' });
      await expect(batch(a, 2, 'a')).rejects.toMatchObject({
        code: 'PUBLISH_FAILED',
        retriable: true,
      });
      expect(await b.readCheckpoint(relayId)).toEqual({ sequence: 1, instance: 'a' });
      await batch(b, 3, 'b');
      // A holder that failed takes the relay back with its next batch, as a restarted one would.
      await batch(a, 4, 'a');
      await expect(batch(b, 5, 'b')).rejects.toMatchObject({ code: 'PUBLISH_FAILED' });
      expect(await a.readCheckpoint(relayId)).toEqual({ sequence: 4, instance: 'a' });
      const { received } = await consume(b, uniqueGroupId('fenced'), topic);
      await waitFor(() => received.length >= 3, { timeoutMs, description: '3 delivered' });
      await batch(a, 6, 'a');
      await waitFor(() => received.length >= 4, { timeoutMs, description: '4 delivered' });
      expect(received.map((m) => m.headers['x-n'])).toEqual(['1', '3', '4', '6']);
    });
  });
}
