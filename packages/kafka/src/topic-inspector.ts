import { SagaflowError, invalidArgument } from '@sagaflow/core';
import { Kafka, logLevel } from 'kafkajs';

/** One partition of a described topic. */
export interface PartitionDescription {
  readonly partition: number;
  /** The broker id of its leader (-1 when it has none). */
  readonly leader: number;
  /** The offset the next message will get (transaction markers count). */
  readonly end: string;
}

/** How far one consumer group got on one topic. */
export interface GroupLag {
  readonly group: string;
  /** Per partition: committed offset (absent when the group has none there) and lag. */
  readonly partitions: readonly {
    readonly partition: number;
    readonly committed?: string;
    readonly lag: number;
  }[];
  /** The sum over partitions. */
  readonly lag: number;
}

/** A topic with its partitions and the consumer groups that read it. */
export interface TopicDescription {
  readonly topic: string;
  readonly partitions: readonly PartitionDescription[];
  readonly groups: readonly GroupLag[];
}

/** Options of {@link describeTopics}. */
export interface DescribeTopicsOptions {
  /** e.g. `['127.0.0.1:9092']`. */
  readonly brokers: readonly string[];
  /** Only these topics. @default every topic but Kafka's internal ones */
  readonly topics?: readonly string[];
  /** Only the topics whose name starts with it. @default none */
  readonly prefix?: string;
  /** Per request. @default 5000 */
  readonly timeoutMs?: number;
}

/**
 * Partitions, end offsets and the lag of every consumer group that has committed offsets on each
 * topic, read from the brokers (what `sagaflow topics describe` prints). A broker that does not
 * answer gives PUBLISH_FAILED (retriable); a topic named in `topics` that does not exist gives
 * NOT_FOUND naming it.
 */
export async function describeTopics(options: DescribeTopicsOptions): Promise<TopicDescription[]> {
  if (options.brokers.length === 0) throw invalidArgument('brokers', 'must name a broker');
  const timeoutMs = options.timeoutMs ?? 5000;
  const admin = new Kafka({
    clientId: 'sagaflow-cli',
    brokers: [...options.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 1 },
  }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new SagaflowError(
      'PUBLISH_FAILED',
      `Kafka does not answer at ${options.brokers.join(',')}: ${(error as Error).message}`,
      { retriable: true, cause: error },
    );
  }
  try {
    const existing = (await admin.listTopics()).filter((t) => !t.startsWith('__'));
    for (const name of options.topics ?? []) {
      if (!existing.includes(name)) {
        throw new SagaflowError('NOT_FOUND', `no topic '${name}'`, {
          context: { topic: name },
        });
      }
    }
    const names = (options.topics ?? existing)
      .filter((t) => options.prefix === undefined || t.startsWith(options.prefix))
      .sort();
    if (names.length === 0) return [];
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
    // One offsets request per group, for all the topics at once, ten groups at a time.
    const committedByGroup = new Map<string, Map<string, Map<number, string>>>();
    const queue = [...groups];
    const worker = async () => {
      for (let group = queue.shift(); group !== undefined; group = queue.shift()) {
        const byTopic = new Map<string, Map<number, string>>();
        for (const { topic, partitions } of await admin.fetchOffsets({
          groupId: group,
          topics: names,
        })) {
          const committed = new Map<number, string>();
          for (const p of partitions) {
            if (Number(p.offset) >= 0) committed.set(p.partition, p.offset);
          }
          if (committed.size > 0) byTopic.set(topic, committed);
        }
        committedByGroup.set(group, byTopic);
      }
    };
    await Promise.all(Array.from({ length: Math.min(10, groups.length) }, worker));
    const described: TopicDescription[] = [];
    for (const name of names) {
      const ends = new Map(
        (await admin.fetchTopicOffsets(name)).map((o) => [o.partition, o.high] as const),
      );
      const partitions = (metadata.find((m) => m.name === name)?.partitions ?? [])
        .map((p) => ({
          partition: p.partitionId,
          leader: p.leader,
          end: ends.get(p.partitionId) ?? '0',
        }))
        .sort((a, b) => a.partition - b.partition);
      const lags: GroupLag[] = [];
      for (const group of groups) {
        const committed = committedByGroup.get(group)?.get(name);
        if (committed === undefined) continue;
        const perPartition = partitions.map((p) => {
          const at = committed.get(p.partition);
          return {
            partition: p.partition,
            ...(at === undefined ? {} : { committed: at }),
            lag: Number(BigInt(p.end) - BigInt(at ?? '0')),
          };
        });
        lags.push({
          group,
          partitions: perPartition,
          lag: perPartition.reduce((a, p) => a + p.lag, 0),
        });
      }
      described.push({ topic: name, partitions, groups: lags });
    }
    return described;
  } finally {
    await admin.disconnect();
  }
}
