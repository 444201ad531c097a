import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type EachMessagePayload,
} from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  testEnv,
  uniqueGroupId,
  uniqueTopic,
  waitFor,
  waitForConsumerToJoinGroup,
} from '../../src/index.js';

interface Received {
  readonly consumer: string;
  readonly partition: number;
  readonly key: string;
  readonly seq: number;
  readonly id: string;
}

const KEYS = 20;

function messages(fromSeq: number, perKey: number) {
  const out = [];
  for (let seq = fromSeq; seq < fromSeq + perKey; seq += 1) {
    for (let k = 0; k < KEYS; k += 1) {
      const key = `key-${k}`;
      out.push({ key, value: JSON.stringify({ key, seq, id: `${key}/${seq}` }) });
    }
  }
  return out;
}

describe('Kafka (real broker)', () => {
  const kafka = new Kafka({
    clientId: 'sagaflow-int',
    brokers: [...testEnv().kafkaBrokers],
    logLevel: logLevel.WARN,
  });
  const topic = uniqueTopic('proof');
  const groupId = uniqueGroupId('proof');
  const received: Received[] = [];
  let admin: Admin;
  const consumers: Consumer[] = [];

  const consumer = (name: string) => {
    const c = kafka.consumer({ groupId, heartbeatInterval: 500, sessionTimeout: 10_000 });
    consumers.push(c);
    const onMessage = ({ partition, message }: EachMessagePayload) => {
      const body = JSON.parse(message.value!.toString()) as {
        key: string;
        seq: number;
        id: string;
      };
      received.push({ consumer: name, partition, ...body });
      return Promise.resolve();
    };
    return { c, onMessage };
  };

  const committedEqualsEnd = async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return ends.every(
      (end) =>
        committed?.partitions.find((p) => p.partition === end.partition)?.offset === end.offset,
    );
  };

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()));
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('splits 3 partitions between two consumers of a group, each message once, in per-key order', async () => {
    const first = consumer('first');
    await first.c.connect();
    await first.c.subscribe({ topic, fromBeginning: true });
    const firstAlone = waitForConsumerToJoinGroup(first.c);
    await first.c.run({ eachMessage: first.onMessage });
    await firstAlone;

    const second = consumer('second');
    await second.c.connect();
    await second.c.subscribe({ topic, fromBeginning: true });
    const [joinA, joinB] = [
      waitForConsumerToJoinGroup(first.c),
      waitForConsumerToJoinGroup(second.c),
    ];
    await second.c.run({ eachMessage: second.onMessage });
    const [a, b] = await Promise.all([joinA, joinB]);
    expect(a.groupId).toBe(groupId);
    const partitionsA = a.memberAssignment[topic] ?? [];
    const partitionsB = b.memberAssignment[topic] ?? [];
    expect(partitionsA.length).toBeGreaterThan(0);
    expect(partitionsB.length).toBeGreaterThan(0);
    expect([...partitionsA, ...partitionsB].sort()).toEqual([0, 1, 2]);

    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const batch = messages(0, 50);
    expect(batch).toHaveLength(1000);
    for (let i = 0; i < batch.length; i += 100) {
      await producer.send({ topic, acks: -1, messages: batch.slice(i, i + 100) });
    }
    await producer.disconnect();

    await waitFor(() => received.length >= 1000, {
      timeoutMs: 30_000,
      description: '1,000 messages',
    });
    await waitFor(committedEqualsEnd, { timeoutMs: 15_000, description: 'offsets committed' });

    expect(received).toHaveLength(1000);
    expect(new Set(received.map((r) => r.id)).size).toBe(1000);
    expect(new Set(received.map((r) => r.consumer))).toEqual(new Set(['first', 'second']));
    for (const r of received) {
      expect(r.consumer === 'first' ? partitionsA : partitionsB).toContain(r.partition);
    }
    for (let k = 0; k < KEYS; k += 1) {
      const seqs = received.filter((r) => r.key === `key-${k}`).map((r) => r.seq);
      expect(seqs).toEqual([...Array(50).keys()]);
      expect(
        new Set(received.filter((r) => r.key === `key-${k}`).map((r) => r.partition)).size,
      ).toBe(1);
    }
  });

  it('resumes a restarted consumer group from its committed offsets', async () => {
    await Promise.all(consumers.splice(0).map((c) => c.disconnect()));
    const before = received.length;

    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: messages(50, 5) });
    await producer.disconnect();

    const restarted = consumer('restarted');
    await restarted.c.connect();
    // fromBeginning would replay everything if the committed offsets were not honoured.
    await restarted.c.subscribe({ topic, fromBeginning: true });
    await restarted.c.run({ eachMessage: restarted.onMessage });
    await waitFor(() => received.length >= before + 100, {
      timeoutMs: 30_000,
      description: '100 new messages',
    });
    await waitFor(committedEqualsEnd, { timeoutMs: 15_000, description: 'offsets committed' });

    const resumed = received.slice(before);
    expect(resumed).toHaveLength(100);
    expect(resumed.every((r) => r.consumer === 'restarted' && r.seq >= 50)).toBe(true);
    expect(new Set(resumed.map((r) => r.id)).size).toBe(100);
  });
});
