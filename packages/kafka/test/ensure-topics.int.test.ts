import { testEnv, uniqueName, uniqueTopic } from '@sagaflow/testing';
import { afterAll, expect, it } from 'vitest';
import { KafkaBus } from '../src/index.js';

const buses: KafkaBus[] = [];
afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
});

/*
 * Services starting together create the same topics at the same moment (every service of the
 * reference system creates the workflow and saga-control topics): the broker's metadata lags the
 * creation, and kafkajs answers a racing creation with `This server does not host this
 * topic-partition`. ensureTopics waits that out.
 */
it('creates the same new topics from many clients at once, each call ending with the topics there', async () => {
  for (let round = 0; round < 5; round += 1) {
    const topics = Array.from({ length: 10 }, () => ({
      topic: uniqueTopic('race'),
      partitions: 3,
    }));
    const racing = Array.from({ length: 8 }, () => {
      const clientId = uniqueName('ensure');
      const bus = new KafkaBus({ brokers: testEnv().kafkaBrokers, clientId, logLevel: 'nothing' });
      buses.push(bus);
      return bus;
    });
    // Every client may use every topic as soon as its own call returns.
    await Promise.all(
      racing.map(async (bus, i) => {
        await bus.ensureTopics(topics);
        const ends = await bus.endOffsets(topics[i % topics.length]!.topic);
        expect(ends.size).toBe(3);
      }),
    );
  }
}, 120_000);
