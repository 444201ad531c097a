import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

/*
 * kafkajs (patched, see patches/README.md) retries a produce request per partition: a batch whose
 * partitions have different leaders, one of which dies, is sent again only for the partitions
 * without an answer, each to its leader of the moment. kafkajs 2.2.4 kept the answers per broker:
 * a retry after the leader moved to a broker that had answered for other partitions skipped the
 * moved partition (never appended, though the transaction committed), and a retry to a broker
 * object it did not know appended the answered partitions twice.
 */
const require = createRequire(import.meta.url);

interface Sent {
  readonly broker: number;
  readonly partitions: readonly number[];
}
type SendMessages = (request: {
  acks: number;
  timeout: number;
  topicMessages: { topic: string; messages: { key: string; value: string }[] }[];
}) => Promise<{ topicName: string; partition: number; baseOffset: string }[]>;
type CreateSendMessages = (options: Record<string, unknown>) => SendMessages;

const createSendMessages = require('kafkajs/src/producer/sendMessages') as CreateSendMessages;
const createRetry = require('kafkajs/src/retry') as (options: object) => unknown;
const { KafkaJSConnectionError } = require('kafkajs/src/errors') as {
  KafkaJSConnectionError: new (message: string) => Error;
};

/** A cluster of brokers 1 and 2 where partition 0's leader, broker 1, dies at its first request. */
function cluster(sameBrokerObjects: boolean) {
  const sent: Sent[] = [];
  const leaders = new Map([
    [0, 1],
    [1, 2],
  ]);
  const broker = (nodeId: number) => ({
    nodeId,
    produce: ({ topicData }: { topicData: { partitions: { partition: number }[] }[] }) => {
      const partitions = topicData.flatMap((t) => t.partitions.map((p) => p.partition));
      sent.push({ broker: nodeId, partitions });
      if (nodeId === 1) {
        // The leader dies; the controllers move its partition to broker 2.
        leaders.set(0, 2);
        return Promise.reject(new KafkaJSConnectionError('Connection error: ECONNREFUSED'));
      }
      return Promise.resolve({
        topics: [
          {
            topicName: 't',
            partitions: partitions.map((partition) => ({
              partition,
              errorCode: 0,
              baseOffset: '0',
            })),
          },
        ],
      });
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  return {
    sent,
    value: {
      targetTopics: new Set(['t']),
      addMultipleTargetTopics: () => Promise.resolve(),
      refreshMetadataIfNecessary: () => Promise.resolve(),
      refreshMetadata: () => Promise.resolve(),
      isConnected: () => true,
      removeBroker: () => {},
      findTopicPartitionMetadata: () =>
        [0, 1].map((partitionId) => ({ partitionId, leader: leaders.get(partitionId) })),
      findLeaderForPartitions: (_topic: string, partitions: string[]) => {
        const result: Record<number, number[]> = {};
        for (const id of partitions) {
          const leader = leaders.get(Number(id))!;
          (result[leader] ??= []).push(Number(id));
        }
        return result;
      },
      // Node ids come as the keys of an object (strings), as kafkajs hands them.
      findBroker: ({ nodeId }: { nodeId: number | string }) =>
        Promise.resolve(sameBrokerObjects ? brokers.get(Number(nodeId)) : broker(Number(nodeId))),
    },
  };
}

const eosManager = () => {
  const sequences = new Map<string, number>();
  return {
    isTransactional: () => false,
    acquireBrokerLock: () => Promise.resolve(),
    releaseBrokerLock: () => Promise.resolve(),
    getSequence: (topic: string, partition: number) => sequences.get(`${topic}/${partition}`) ?? 0,
    updateSequence: (topic: string, partition: number, increment: number) => {
      const key = `${topic}/${partition}`;
      sequences.set(key, (sequences.get(key) ?? 0) + increment);
    },
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
    getTransactionalId: () => undefined,
  };
};

it.each([
  ['the brokers it knew', true],
  ['brokers looked up afresh', false],
])(
  'sends each partition once more only when it had no answer, to its new leader (%s)',
  async (_label, sameBrokerObjects) => {
    const { sent, value } = cluster(sameBrokerObjects);
    const logger = { debug: () => {}, error: () => {}, warn: () => {}, info: () => {} };
    const sendMessages = createSendMessages({
      logger,
      cluster: value,
      eosManager: eosManager(),
      // Partition by key: 'a' to 0, 'b' to 1.
      partitioner: ({ message }: { message: { key: string } }) => (message.key === 'a' ? 0 : 1),
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
    });
    const answers = await sendMessages({
      acks: -1,
      timeout: 1000,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { key: 'a', value: '1' },
            { key: 'b', value: '2' },
          ],
        },
      ],
    });
    // Partition 1 once (its answer came), partition 0 again to broker 2, nothing else.
    const appended = sent.filter((s) => s.broker === 2).flatMap((s) => s.partitions);
    expect(appended.sort()).toEqual([0, 1]);
    expect(answers.map((a) => a.partition).sort()).toEqual([0, 1]);
  },
);
