import { randomUUID } from 'node:crypto';
import {
  backoffDelay,
  checkShardCount,
  invalidArgument,
  type ClaimShardsOptions,
  type ShardClaim,
  type ShardClaims,
  SagaflowError,
  type BackoffPolicy,
  type BusMessage,
  type MessagePublisher,
  type MessageSubscriber,
  type OffsetReader,
  type Pingable,
  type PublishOptions,
  type TopicAdmin,
  type ReceivedMessage,
  type RelayCheckpoint,
  type RoundTripListener,
  type SubscribeOptions,
  type Subscription,
} from '@sagaflow/core';
import {
  Kafka,
  logLevel,
  type Admin,
  type AdminConfig,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type Producer,
} from 'kafkajs';

/** Options of {@link KafkaBus}. */
export interface KafkaBusOptions {
  /** Bootstrap servers, `host:port`. */
  readonly brokers: readonly string[];
  /** Client id, shown in broker logs. */
  readonly clientId: string;
  /**
   * Transactional id of the producer of publishes without a checkpoint (replies, dead letters).
   * A relay's publishes (with a checkpoint) go through a producer of their own whose
   * transactional id is the relay id: a relay restarted elsewhere fences the stale one. Two
   * producers with the same id fence each other, so leave this unique per process.
   * @default `<clientId>-<random>`
   */
  readonly transactionalId?: string;
  /** Partitions of topics that {@link KafkaBus.ensureTopics} creates. @default 3 */
  readonly defaultPartitions?: number;
  /**
   * Replicas of each partition of the topics that {@link KafkaBus.ensureTopics} creates (events,
   * commands, dead letters, relay checkpoints). Topics that exist already are left as they are.
   * @default min(3, the brokers the cluster has when the topics are created)
   */
  readonly replicationFactor?: number;
  /**
   * `min.insync.replicas` of the topics {@link KafkaBus.ensureTopics} creates: a transaction
   * commits only once this many replicas have each write (producers ask all in-sync replicas), so
   * a broker that dies right after loses nothing. At most the replication factor.
   * @default 2 with three replicas or more, else 1
   */
  readonly minInSyncReplicas?: number;
  /** Messages of one consumer handled in parallel, one partition each. @default 3 */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * How long the group waits for a silent member (a crashed process) before giving its
   * partitions to the others. At least the broker's `group.min.session.timeout.ms`. @default 15000
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Longest time the broker holds a consumer's fetch when there is nothing to read. A
   * read-committed fetch is not answered when a transaction commits, only when it times out or
   * more data arrives, so this bounds the latency of every hop of a saga. @default 100
   */
  readonly maxWaitTimeMs?: number;
  /**
   * How often a consumer commits the offsets of the messages it has handled. Handlers are
   * idempotent, so a crash redelivers at most this much work, which is applied once; committing
   * after every message would cost a round trip per message. @default 1000
   */
  readonly commitIntervalMs?: number;
  /** @default 'warn' */
  readonly logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  /**
   * Told the name of each request sent to a broker (`Produce`, `Fetch`, `EndTxn`, …) by this
   * bus's producer, consumers and admin clients: how round trips are counted. @default none
   */
  readonly onRequest?: RoundTripListener;
}

/** Keys of one fetch handled side by side at most. */
const KEYS_AT_ONCE = 32;

/**
 * Handles a partition's messages, those of one key in order and up to {@link KEYS_AT_ONCE} keys
 * side by side. `handleOne` answers false for a message it did not handle (stopping): the rest of
 * that key waits. Returns the longest run of messages from the start that were all handled, and
 * the first error.
 */
export async function handleByKey<M>(
  messages: readonly M[],
  keyOf: (message: M) => string,
  handleOne: (message: M) => Promise<boolean>,
): Promise<{ handled: M[]; error?: unknown }> {
  const byKey = new Map<string, M[]>();
  for (const message of messages) {
    const key = keyOf(message);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [message]);
    else list.push(message);
  }
  const finished = new Set<M>();
  let error: unknown;
  const queues = [...byKey.values()];
  const worker = async () => {
    for (let queue = queues.shift(); queue !== undefined; queue = queues.shift()) {
      for (const message of queue) {
        if (error !== undefined) return;
        try {
          if (!(await handleOne(message))) break;
          finished.add(message);
        } catch (failure) {
          error ??= failure;
          return;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(KEYS_AT_ONCE, queues.length) }, worker));
  const handled: M[] = [];
  for (const message of messages) {
    if (!finished.has(message)) break;
    handled.push(message);
  }
  return error === undefined ? { handled } : { handled, error };
}

/**
 * Relay checkpoints are committed offsets of the group `<relayId>.checkpoint` on partition 0 of
 * this topic (offset = batch sequence, metadata = relay instance), written inside the batch's
 * transaction. Nothing is ever produced to the topic itself.
 */
export const CHECKPOINT_TOPIC = 'sagaflow.relay-checkpoints';

/** How long {@link KafkaBus.ensureTopics} waits out a broker whose metadata lags. */
const ENSURE_TOPICS_TIMEOUT_MS = 30_000;
const ENSURE_TOPICS_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 2_000, multiplier: 2 };
/** Pauses before a consumer that kafkajs left stopped is started afresh. */
const CONSUMER_RESTART_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 10_000, multiplier: 2 };
const checkpointGroup = (relayId: string) => `${relayId}.checkpoint`;
/**
 * How long a relay's checkpoint read waits for the group coordinator to answer a stable offset
 * (its offsets loaded, the last transaction's taken): then the read fails and the relay retries.
 */
const STABLE_CHECKPOINT_MS = 30_000;
const STABLE_CHECKPOINT_BACKOFF: BackoffPolicy = { initialMs: 20, maxMs: 500, multiplier: 2 };

/** Runs `run` again after each retriable failure (kafkajs' flag), with backoff, for `timeoutMs`. */
async function retryingRetriable<T>(
  run: () => Promise<T>,
  backoff: BackoffPolicy,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      const delay = backoffDelay(backoff, attempt);
      const retriable = (error as { retriable?: unknown }).retriable === true;
      if (!retriable || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

function headersOf(raw: IHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return headers;
}

/**
 * The Kafka adapter: a {@link MessagePublisher} whose batches are Kafka transactions (idempotent,
 * acks from all in-sync replicas, all-or-nothing for read-committed consumers), and a
 * {@link MessageSubscriber} on consumer groups that commits an offset only after its message was
 * handled.
 */
export class KafkaBus
  implements MessagePublisher, MessageSubscriber, OffsetReader, TopicAdmin, Pingable, ShardClaims
{
  readonly #kafka: Kafka;
  readonly #options: KafkaBusOptions;
  /** Transactional id of the producer of publishes without a checkpoint. */
  readonly #ownTransactionalId: string;
  /** Producers by transactional id, each with its queue: one transaction at a time. */
  readonly #producers = new Map<
    string,
    { producer: Promise<Producer> | undefined; queue: Promise<unknown> }
  >();
  /** How to stop each running consumer (its handled offsets committed first). */
  readonly #consumers = new Set<() => Promise<void>>();

  constructor(options: KafkaBusOptions) {
    if (options.brokers.length === 0)
      throw invalidArgument('brokers', 'must name at least one broker');
    if (options.clientId.trim() === '')
      throw invalidArgument('clientId', 'must be a non-empty string');
    const interval = options.commitIntervalMs;
    if (interval !== undefined && !(Number.isFinite(interval) && interval > 0)) {
      throw invalidArgument('commitIntervalMs', `must be a positive number (got ${interval})`);
    }
    for (const field of ['replicationFactor', 'minInSyncReplicas'] as const) {
      const value = options[field];
      if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= 32767)) {
        throw invalidArgument(field, `must be a positive integer (got ${value})`);
      }
    }
    if (
      options.replicationFactor !== undefined &&
      options.minInSyncReplicas !== undefined &&
      options.minInSyncReplicas > options.replicationFactor
    ) {
      throw invalidArgument(
        'minInSyncReplicas',
        `must be at most the replication factor ${options.replicationFactor} (got ${options.minInSyncReplicas})`,
      );
    }
    this.#options = options;
    this.#ownTransactionalId = options.transactionalId ?? `${options.clientId}-${randomUUID()}`;
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      logLevel: LEVELS[options.logLevel ?? 'warn'],
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
    });
  }

  /** Tells `onRequest` about each request the client sends. */
  #counted<C extends Admin | Producer | Consumer>(client: C): C {
    const listener = this.#options.onRequest;
    if (listener !== undefined) {
      (client as Admin).on((client as Admin).events.REQUEST, (event) =>
        listener(event.payload.apiName),
      );
    }
    return client;
  }

  #admin(config?: AdminConfig): Admin {
    return this.#counted(this.#kafka.admin(config));
  }

  /** Creates the topics that do not exist yet. */
  async ensureTopics(topics: readonly { topic: string; partitions?: number }[]): Promise<void> {
    // Services that start together create the same topics at once, and a busy broker's metadata
    // lags a creation: kafkajs then fails with a retriable error (`This server does not host this
    // topic-partition`) that its own retries do not always outlast. Wait it out, bounded.
    await retryingRetriable(
      () => this.#createMissingTopics(topics),
      ENSURE_TOPICS_BACKOFF,
      ENSURE_TOPICS_TIMEOUT_MS,
    );
  }

  async #createMissingTopics(
    topics: readonly { topic: string; partitions?: number }[],
  ): Promise<void> {
    const admin = this.#admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length > 0) {
        const { replicationFactor, minInSyncReplicas } = await this.#replication(admin);
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.topic,
            numPartitions: t.partitions ?? this.#options.defaultPartitions ?? 3,
            replicationFactor,
            configEntries: [{ name: 'min.insync.replicas', value: String(minInSyncReplicas) }],
          })),
        });
      }
      // A topic another client has just created is listed before its partitions' leaders
      // serve it; producing to it or reading its offsets then fails with a retriable error.
      // Return only once every partition has a leader and answers an offset request (kafkajs
      // fails reading the offsets of a topic whose partitions its metadata does not know yet
      // with a TypeError, so they are checked first).
      const { topics: known } = await admin.fetchTopicMetadata({
        topics: topics.map((t) => t.topic),
      });
      const lagging = known.filter(
        (t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0),
      );
      if (lagging.length > 0) {
        throw new SagaflowError(
          'PUBLISH_FAILED',
          `the brokers do not serve every partition of ${lagging.map((t) => t.name).join(', ')} yet`,
          { retriable: true },
        );
      }
      // One topic at a time: kafkajs' admin, asked for several topics' offsets at once, can
      // lose one topic's metadata to another's refresh (and fails with a TypeError).
      for (const { topic } of topics) await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
  }

  /** The replication of new topics: as configured, else from the brokers the cluster has. */
  async #replication(
    admin: Admin,
  ): Promise<{ replicationFactor: number; minInSyncReplicas: number }> {
    const { brokers } = await admin.describeCluster();
    const replicationFactor = this.#options.replicationFactor ?? Math.min(3, brokers.length);
    if (replicationFactor > brokers.length) {
      throw invalidArgument(
        'replicationFactor',
        `must be at most the ${brokers.length} broker(s) the cluster has (got ${replicationFactor})`,
      );
    }
    const minInSyncReplicas = this.#options.minInSyncReplicas ?? (replicationFactor >= 3 ? 2 : 1);
    if (minInSyncReplicas > replicationFactor) {
      throw invalidArgument(
        'minInSyncReplicas',
        `must be at most the replication factor ${replicationFactor} (got ${minInSyncReplicas})`,
      );
    }
    return { replicationFactor, minInSyncReplicas };
  }

  /** A relay's publishes go through its own producer (its relay id); the rest through ours. */
  #transactionalIdOf(checkpoint: { readonly relayId: string } | undefined): string {
    return checkpoint?.relayId ?? this.#ownTransactionalId;
  }

  #slot(transactionalId: string) {
    let slot = this.#producers.get(transactionalId);
    if (slot === undefined) {
      slot = { producer: undefined, queue: Promise.resolve() };
      this.#producers.set(transactionalId, slot);
    }
    return slot;
  }

  /**
   * Takes a transactional id over, after the transactions in hand of this process's producer: a
   * fresh producer initialises it (InitProducerId with the id), which fences every older producer
   * with the id, in any process (its next transaction fails), and waits until the last
   * transaction of the one before is settled (a committed one's markers, a checkpoint's among
   * them, are written after its commit returns). kafkajs initialises a transactional id only
   * when a producer begins its first transaction (connecting asks for a plain producer id), so
   * one is begun, and ended without a request.
   */
  #fence(transactionalId: string): Promise<void> {
    const slot = this.#slot(transactionalId);
    const fencing = slot.queue.then(async () => {
      const stale = slot.producer;
      slot.producer = undefined;
      await (await stale?.catch(() => undefined))?.disconnect().catch(() => {});
      try {
        const transaction = await (await this.#connectedProducer(transactionalId)).transaction();
        await transaction.abort();
      } catch (error) {
        // A producer that could not take the id over is not kept: the next one starts afresh.
        this.#dropProducer(transactionalId);
        throw error;
      }
    });
    slot.queue = fencing.catch(() => {});
    return fencing;
  }

  /** Forgets a transactional id's producer and disconnects it in the background. */
  #dropProducer(transactionalId: string): void {
    const slot = this.#slot(transactionalId);
    const dropped = slot.producer;
    slot.producer = undefined;
    void dropped?.then((p) => p.disconnect()).catch(() => {});
  }

  #connectedProducer(transactionalId: string): Promise<Producer> {
    const slot = this.#slot(transactionalId);
    slot.producer ??= (async () => {
      const producer = this.#counted(
        this.#kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          // The broker answers CONCURRENT_TRANSACTIONS to a transaction begun while the markers of
          // the previous one are still being written (3 to 6 ms here): retried after the client's
          // usual 100+ ms, every batch after a busy one waited that long, and after 5 ms doubling,
          // 6 ms more than the markers took (measured: back-to-back transactions of one message
          // 11.0 ms, 7.7 with these). Retry after 1 ms, growing by 1.3: about 5 s in all, as before.
          retry: { retries: 28, initialRetryTime: 1, multiplier: 1.3, maxRetryTime: 5000 },
          transactionalId,
        }),
      );
      await producer.connect();
      return producer;
    })().catch((error: unknown) => {
      slot.producer = undefined;
      throw error;
    });
    return slot.producer;
  }

  publish(messages: readonly BusMessage[], options: PublishOptions = {}): Promise<void> {
    // One transaction at a time per producer.
    const slot = this.#slot(this.#transactionalIdOf(options.checkpoint));
    const run = slot.queue.then(() => this.#publish(messages, options));
    slot.queue = run.catch(() => {});
    return run;
  }

  async #publish(
    messages: readonly BusMessage[],
    { checkpoint, beforeCommit }: PublishOptions,
  ): Promise<void> {
    if (messages.length === 0 && checkpoint === undefined) {
      await beforeCommit;
      return;
    }
    const transactionalId = this.#transactionalIdOf(checkpoint);
    let producer: Producer;
    try {
      if (checkpoint !== undefined) await this.#ensureCheckpointTopic();
      producer = await this.#connectedProducer(transactionalId);
    } catch (error) {
      throw new SagaflowError(
        'PUBLISH_FAILED',
        `cannot connect to Kafka: ${(error as Error).message}`,
        {
          retriable: true,
          cause: error,
        },
      );
    }
    const byTopic = new Map<
      string,
      { key: string; value: Buffer; headers: Record<string, string> }[]
    >();
    for (const m of messages) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value, headers: { ...m.headers } });
      byTopic.set(m.topic, list);
    }
    const transaction = await producer.transaction();
    /** Whether `beforeCommit` rejected: the producer is sound, the caller's reason goes back. */
    let refused = false;
    try {
      if (messages.length > 0) {
        await transaction.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
        });
      }
      if (checkpoint !== undefined) {
        await transaction.sendOffsets({
          consumerGroupId: checkpointGroup(checkpoint.relayId),
          topics: [
            {
              topic: CHECKPOINT_TOPIC,
              partitions: [
                {
                  partition: 0,
                  offset: String(checkpoint.value.sequence),
                  metadata: checkpoint.value.instance,
                } as { partition: number; offset: string },
              ],
            },
          ],
        });
      }
      await beforeCommit?.catch((reason: unknown) => {
        refused = true;
        throw reason;
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      if (refused) throw error;
      // A fenced or broken producer cannot be reused: start a fresh one next time.
      this.#dropProducer(transactionalId);
      throw new SagaflowError(
        'PUBLISH_FAILED',
        `publishing to Kafka failed: ${(error as Error).message}`,
        {
          retriable: true,
          cause: error,
        },
      );
    }
  }

  /**
   * Resolves when a broker answers: a fresh connection and its ApiVersions request. Not a
   * metadata request: kafkajs asks for every topic of the cluster when given none, which on a
   * cluster of thousands of topics costs the client and the broker tens of milliseconds of CPU at
   * every probe.
   */
  async ping(): Promise<void> {
    const admin = this.#admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
    } finally {
      await admin.disconnect();
    }
  }

  /** An admin client kept connected for offset reads (a fresh one costs a few requests). */
  #shared: Promise<Admin> | undefined;

  /** Runs a read on the kept admin client; one that failed is dropped, the next read reconnects. */
  async #withAdmin<T>(read: (admin: Admin) => Promise<T>): Promise<T> {
    const connecting = (this.#shared ??= (async () => {
      const admin = this.#admin();
      await admin.connect();
      return admin;
    })());
    try {
      return await read(await connecting);
    } catch (error) {
      if (this.#shared === connecting) this.#shared = undefined;
      void connecting.then((admin) => admin.disconnect()).catch(() => {});
      throw error;
    }
  }

  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, bigint>> {
    return this.#withAdmin(async (admin) => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = new Map<number, bigint>();
      for (const { partition, offset } of offsets?.partitions ?? []) {
        if (BigInt(offset) >= 0n) committed.set(partition, BigInt(offset));
      }
      return committed;
    });
  }

  endOffsets(topic: string): Promise<ReadonlyMap<number, bigint>> {
    return this.#withAdmin(async (admin) => {
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(offsets.map(({ partition, high }) => [partition, BigInt(high)]));
    });
  }

  #checkpointTopic: Promise<void> | undefined;

  #ensureCheckpointTopic(): Promise<void> {
    this.#checkpointTopic ??= this.ensureTopics([{ topic: CHECKPOINT_TOPIC, partitions: 1 }]).catch(
      (error: unknown) => {
        this.#checkpointTopic = undefined;
        throw error;
      },
    );
    return this.#checkpointTopic;
  }

  async readCheckpoint(relayId: string): Promise<RelayCheckpoint | undefined> {
    try {
      await this.#ensureCheckpointTopic();
      await this.#fence(relayId);
      // The fence settled the last transaction of every holder before: the group coordinator
      // takes its offsets a moment later (after a broker failover, once it has loaded them), and
      // until then a stable read answers UNSTABLE_OFFSET_COMMIT rather than the checkpoint
      // before. Read until it answers.
      return await retryingRetriable(
        () => this.#fetchCheckpoint(relayId),
        STABLE_CHECKPOINT_BACKOFF,
        STABLE_CHECKPOINT_MS,
      );
    } catch (error) {
      throw new SagaflowError(
        'PUBLISH_FAILED',
        `reading the relay checkpoint failed: ${(error as Error).message}`,
        {
          retriable: true,
          cause: error,
        },
      );
    }
  }

  /**
   * The committed offset of a relay's checkpoint group, read stable: fails with the retriable
   * `UNSTABLE_OFFSET_COMMIT` while a transaction's offsets of the group are not settled.
   */
  async #fetchCheckpoint(relayId: string): Promise<RelayCheckpoint | undefined> {
    const [offsets] = await this.#withAdmin((admin) =>
      admin.fetchOffsets({
        groupId: checkpointGroup(relayId),
        topics: [CHECKPOINT_TOPIC],
        requireStable: true,
      }),
    );
    const partition = offsets?.partitions.find((p) => p.partition === 0) as
      { offset: string; metadata: string | null } | undefined;
    if (partition === undefined || Number(partition.offset) < 0 || partition.metadata === null) {
      return undefined;
    }
    return { sequence: Number(partition.offset), instance: partition.metadata };
  }

  subscribe(
    options: SubscribeOptions,
    handle: (message: ReceivedMessage) => Promise<void>,
  ): Promise<Subscription> {
    return this.#consume(options, handle);
  }

  /**
   * Shares the shards among the processes that claim the same name and count: the partitions of
   * the topic `sagaflow.shards.<name>.<count>` (one per shard, nothing is ever written to it)
   * assigned to this process by the consumer group `<name>.shards.<count>`. A service restarted
   * with another count claims afresh. A rebalance takes every shard away until the new
   * assignment comes; a process that died keeps its shards until its session times out.
   */
  async claimShards(options: ClaimShardsOptions): Promise<ShardClaim> {
    checkShardCount(options.count, 'count');
    const sharded = `${options.name}.${options.count}`;
    const topic = `sagaflow.shards.${sharded}`;
    await this.ensureTopics([{ topic, partitions: options.count }]);
    let changes: Promise<void> = Promise.resolve();
    let owned = '';
    const assign = (shards: readonly number[]) => {
      const sorted = [...shards].sort((a, b) => a - b);
      changes = changes.then(async () => {
        if (sorted.join() === owned) return;
        owned = sorted.join();
        await options.onAssigned(sorted).catch(() => {});
      });
      return changes;
    };
    let assigned: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      assigned = resolve;
    });
    const subscription = await this.#consume(
      { groupId: `${options.name}.shards.${options.count}`, topics: [topic], start: 'latest' },
      () => Promise.resolve(),
      {
        // Nothing to read: a long fetch keeps its requests few.
        maxWaitTimeMs: 1000,
        onJoin: (assignment) => void assign(assignment[topic] ?? []).then(assigned),
        onRevoked: () => void assign([]),
      },
    );
    return {
      ready: subscription.ready.then(() => first),
      stop: async () => {
        await subscription.stop();
        await assign([]);
      },
    };
  }

  async #consume(
    options: SubscribeOptions,
    handle: (message: ReceivedMessage) => Promise<void>,
    hooks: {
      readonly maxWaitTimeMs?: number;
      /** The partitions assigned to this member, by topic, after each join. */
      readonly onJoin?: (assignment: Readonly<Record<string, number[]>>) => void;
      /** The member's partitions are gone: a rebalance began, or the consumer stopped. */
      readonly onRevoked?: () => void;
    } = {},
  ): Promise<Subscription> {
    let joined: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      joined = resolve;
    });
    let consumer: Consumer | undefined;
    let stopped = false;
    let restarting: NodeJS.Timeout | undefined;
    // Offsets handled and not committed yet, by topic and partition: committed on a timer, at
    // a rebalance and at the stop.
    const handled = new Map<string, { topic: string; partition: number; offset: string }>();
    const commit = async () => {
      if (handled.size === 0 || consumer === undefined) return;
      const offsets = [...handled.values()];
      handled.clear();
      try {
        await consumer.commitOffsets(offsets);
      } catch {
        // A partition given to another member meanwhile: it starts from the last commit and
        // redelivers what this member handled since (applied once: handlers are idempotent).
        // Otherwise the next commit carries a later offset of the same partition.
      }
    };
    const markHandled = (topic: string, partition: number, offset: string) =>
      handled.set(`${topic}/${partition}`, {
        topic,
        partition,
        offset: (BigInt(offset) + 1n).toString(),
      });
    const received = (topic: string, partition: number, message: KafkaMessage) => ({
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString() ?? null,
      value: message.value,
      headers: headersOf(message.headers),
    });
    // Messages of one key in order (or, by default, all of a partition's): see handleByKey.
    const keyOf =
      options.ordering === 'key'
        ? (message: KafkaMessage) => message.key?.toString() ?? ''
        : () => '';
    let restarts = 0;
    const start = async (): Promise<void> => {
      const current = this.#counted(
        this.#kafka.consumer({
          groupId: options.groupId,
          heartbeatInterval: Math.min(
            1000,
            Math.floor((this.#options.sessionTimeoutMs ?? 15_000) / 3),
          ),
          sessionTimeout: this.#options.sessionTimeoutMs ?? 15_000,
          readUncommitted: false,
          maxWaitTimeInMs: hooks.maxWaitTimeMs ?? this.#options.maxWaitTimeMs ?? 100,
        }),
      );
      consumer = current;
      current.on(current.events.GROUP_JOIN, (event) => {
        restarts = 0;
        hooks.onJoin?.(event.payload.memberAssignment);
        joined();
      });
      current.on(current.events.REBALANCING, () => {
        hooks.onRevoked?.();
        void commit();
      });
      // A fetch of only transaction markers (or aborted records) is skipped by kafkajs, which
      // still reports its last offset: the committed offset moves past it.
      current.on(current.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize === 0) {
          markHandled(payload.topic, payload.partition, payload.lastOffset);
        }
      });
      current.on(current.events.CRASH, (event) => {
        if (stopped) return;
        hooks.onRevoked?.();
        options.onRestart?.(event.payload.error);
        // kafkajs restarts a consumer after a crash it takes for retriable, and leaves it
        // stopped after any other (an error whose first cause carries no 'retriable' flag):
        // then a fresh consumer takes over, after a pause.
        if (!event.payload.restart) restart();
      });
      await current.connect();
      for (const topic of options.topics) {
        await current.subscribe({
          topic,
          fromBeginning: (options.start ?? 'earliest') === 'earliest',
        });
      }
      await current.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.#options.partitionsConsumedConcurrently ?? 3,
        eachBatch: async (payload) => {
          const { topic, partition, messages } = payload.batch;
          const done = await handleByKey(messages, keyOf, async (message) => {
            if (!payload.isRunning() || payload.isStale()) return false;
            await handle(received(topic, partition, message));
            await payload.heartbeat();
            return true;
          });
          // The offset moves past the handled messages up to the first one not handled; past
          // the whole fetch (its transaction markers too) when all were.
          const last =
            done.handled.length === messages.length && messages.length > 0
              ? payload.batch.lastOffset()
              : done.handled.at(-1)?.offset;
          if (last !== undefined) {
            payload.resolveOffset(last);
            markHandled(topic, partition, last);
          }
          if (done.error !== undefined) {
            throw done.error instanceof Error ? done.error : new Error(JSON.stringify(done.error));
          }
        },
      });
    };
    const restart = () => {
      restarts += 1;
      // What the stopped consumer handled and did not commit comes again to whoever gets it.
      handled.clear();
      const stale = consumer;
      restarting = setTimeout(
        () => {
          restarting = undefined;
          void (async () => {
            await stale?.disconnect().catch(() => {});
            if (stopped) return;
            await start().catch((error: unknown) => {
              if (stopped) return;
              options.onRestart?.(error);
              restart();
            });
          })();
        },
        backoffDelay(CONSUMER_RESTART_BACKOFF, restarts),
      );
    };
    await start();
    const committing = setInterval(() => void commit(), this.#options.commitIntervalMs ?? 1000);
    committing.unref();
    const stop = async () => {
      stopped = true;
      this.#consumers.delete(stop);
      clearInterval(committing);
      if (restarting !== undefined) clearTimeout(restarting);
      await commit();
      await consumer?.disconnect();
    };
    this.#consumers.add(stop);
    return { ready, stop };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((stop) => stop().catch(() => {})));
    this.#consumers.clear();
    const shared = this.#shared;
    this.#shared = undefined;
    await (await shared?.catch(() => undefined))?.disconnect().catch(() => {});
    const slots = [...this.#producers.values()];
    this.#producers.clear();
    await Promise.all(
      slots.map(async (slot) => {
        await slot.queue;
        await (await slot.producer)?.disconnect().catch(() => {});
      }),
    );
  }
}
