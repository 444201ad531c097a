import { testEnv, uniqueName, uniqueTopic, waitFor } from '@sagaflow/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, expect, it } from 'vitest';
import { KafkaBus } from '../src/index.js';

const bus = new KafkaBus({
  brokers: testEnv().kafkaBrokers,
  clientId: uniqueName('checkpoint'),
  logLevel: 'nothing',
});
afterAll(() => bus.close());

/*
 * The group coordinator takes a committed transaction's offsets a moment after its markers are
 * written: a checkpoint read right after its batch's commit once answered the one before it, and
 * a relay recovering then would publish the batch again.
 */
it('reads the checkpoint of the batch just committed, every time', async () => {
  const topic = uniqueTopic('checkpointed');
  await bus.ensureTopics([{ topic, partitions: 1 }]);
  const relayId = uniqueName('relay');
  const stale: number[] = [];
  for (let sequence = 1; sequence <= 40; sequence += 1) {
    await bus.publish([{ topic, key: 'k', value: Buffer.from(String(sequence)), headers: {} }], {
      checkpoint: { relayId, value: { sequence, instance: 'one' } },
    });
    const read = await bus.readCheckpoint(relayId);
    if (read?.sequence !== sequence) stale.push(sequence);
  }
  expect(stale).toEqual([]);
}, 120_000);

/*
 * The patched kafkajs (patches/kafkajs@2.2.4.patch) sends OffsetFetch version 7 with
 * require_stable when asked: a group whose transactional offsets are not settled yet answers
 * UNSTABLE_OFFSET_COMMIT instead of the offset before them, which a relay taking a shard over
 * would otherwise take for its checkpoint.
 */
it('reads a stable offset only: none while a transaction holding it is open, then the one it committed', async () => {
  const brokers = testEnv().kafkaBrokers;
  const topic = uniqueTopic('stable');
  await bus.ensureTopics([{ topic, partitions: 1 }]);
  const groupId = uniqueName('stable-group');
  const kafka = new Kafka({ brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({
    transactionalId: uniqueName('stable-txn'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    const read = (requireStable: boolean) =>
      admin.fetchOffsets({ groupId, topics: [topic], requireStable });
    const transaction = await producer.transaction();
    await transaction.sendOffsets({
      consumerGroupId: groupId,
      topics: [
        {
          topic,
          partitions: [{ partition: 0, offset: '7', metadata: 'seven' } as never],
        },
      ],
    });
    await expect(read(true)).rejects.toMatchObject({ type: 'UNSTABLE_OFFSET_COMMIT' });
    // Without it, the offset before the transaction (none).
    expect((await read(false))[0]!.partitions[0]!.offset).toBe('-1');
    await transaction.commit();
    let stable: Awaited<ReturnType<typeof read>> | undefined;
    await waitFor(
      async () => {
        stable = await read(true).catch(() => undefined);
        return stable !== undefined;
      },
      { timeoutMs: 10_000, description: 'a stable offset' },
    );
    expect(stable![0]!.partitions[0]).toMatchObject({ offset: '7', metadata: 'seven' });
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  }
}, 60_000);
