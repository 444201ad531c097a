import { testEnv, uniqueName, uniqueTopic } from '@sagaflow/testing';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
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

it('creates topics with the replication it is given, and refuses one the cluster cannot hold, naming the setting', async () => {
  const brokers = testEnv().kafkaBrokers;
  expect(
    () => new KafkaBus({ brokers, clientId: 'x', replicationFactor: 2, minInSyncReplicas: 3 }),
  ).toThrow(/minInSyncReplicas must be at most the replication factor 2/);
  expect(() => new KafkaBus({ brokers, clientId: 'x', replicationFactor: 0 })).toThrow(
    /replicationFactor must be a positive integer/,
  );
  const bus = new KafkaBus({ brokers, clientId: uniqueName('replicas'), logLevel: 'nothing' });
  buses.push(bus);
  const topic = uniqueTopic('replicated');
  await bus.ensureTopics([{ topic, partitions: 2 }]);
  const admin = new Kafka({ brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { brokers: cluster } = await admin.describeCluster();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    // The default: min(3, brokers) replicas, and 2 in sync where there are 3.
    const replicas = Math.min(3, cluster.length);
    expect(topics[0]!.partitions.map((p) => p.replicas.length)).toEqual([replicas, replicas]);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] },
      ],
    });
    expect(described.resources[0]!.configEntries[0]!.configValue).toBe(replicas >= 3 ? '2' : '1');
  } finally {
    await admin.disconnect();
  }
  const tooMany = new KafkaBus({
    brokers,
    clientId: uniqueName('replicas'),
    logLevel: 'nothing',
    replicationFactor: 9,
  });
  buses.push(tooMany);
  const refused = await tooMany.ensureTopics([{ topic: uniqueTopic('too-many') }]).then(
    () => undefined,
    (error: unknown) => error as { code?: string; message?: string },
  );
  expect(refused?.code).toBe('INVALID_ARGUMENT');
  expect(refused?.message).toMatch(/^replicationFactor must be at most the \d+ broker\(s\)/);
});
