import { testEnv, uniqueName, uniqueTopic } from '@sagaflow/testing';
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
