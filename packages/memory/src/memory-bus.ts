import { checkShardCount, SagaflowError } from '@sagaflow/core';
import type {
  BusMessage,
  ClaimShardsOptions,
  ShardClaim,
  ShardClaims,
  MessagePublisher,
  MessageSubscriber,
  OffsetReader,
  Pingable,
  PublishOptions,
  ReceivedMessage,
  RelayCheckpoint,
  SubscribeOptions,
  Subscription,
  TopicAdmin,
} from '@sagaflow/core';

interface Member {
  readonly topics: readonly string[];
  readonly handle: (message: ReceivedMessage) => Promise<void>;
  stopped: boolean;
  /** Partitions (`topic/partition`) this member consumes. */
  assigned: Set<string>;
  readonly inFlight: Set<Promise<void>>;
}

interface Claimant {
  readonly onAssigned: (shards: readonly number[]) => Promise<void>;
  /** The shards it was told it owns, joined. */
  owned: string;
  changes: Promise<void>;
}

interface Group {
  readonly committed: Map<string, number>;
  readonly members: Member[];
  readonly start: 'earliest' | 'latest';
}

/**
 * Who holds each relay id, as Kafka's transactional ids are held: a client takes a relay id over
 * by reading its checkpoint, or by publishing with it when it does not hold it; the client that
 * held it before fails its next publish with it (and takes it back with the one after, as a
 * producer started afresh would).
 */
class RelayHolds {
  readonly #holder = new Map<string, object>();
  /** The relay ids each client believes it holds. */
  readonly #held = new WeakMap<object, Set<string>>();

  #heldBy(client: object): Set<string> {
    let held = this.#held.get(client);
    if (held === undefined) {
      held = new Set();
      this.#held.set(client, held);
    }
    return held;
  }

  take(client: object, relayId: string): void {
    this.#holder.set(relayId, client);
    this.#heldBy(client).add(relayId);
  }

  /** The error of a client whose relay id another one took over since this one took it. */
  check(client: object, relayId: string): SagaflowError | undefined {
    const held = this.#heldBy(client);
    if (!held.has(relayId)) {
      this.take(client, relayId);
      return undefined;
    }
    if (this.#holder.get(relayId) === client) return undefined;
    held.delete(relayId);
    return new SagaflowError(
      'PUBLISH_FAILED',
      `the relay '${relayId}' was taken over by another process (fenced)`,
      { retriable: true },
    );
  }
}

/** What a {@link MemoryBusClient} reaches of its bus: publishing and reading in its own name. */
interface ClientAccess {
  readonly holds: RelayHolds;
  readonly append: (
    messages: readonly BusMessage[],
    checkpoint: { readonly relayId: string; readonly value: RelayCheckpoint } | undefined,
  ) => void;
  readonly checkpoint: (relayId: string) => RelayCheckpoint | undefined;
}

const access = new WeakMap<MemoryBus, ClientAccess>();

/** Kafka's partitioner in spirit: a stable hash of the key. */
function partitionOf(key: string, partitions: number): number {
  let hash = 0;
  for (let i = 0; i < key.length; i += 1) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(hash) % partitions;
}

/**
 * In-memory message bus, for fast tests and the embedded demo: topics with partitions, atomic
 * batches, consumer groups that split partitions between members and commit an offset after its
 * message was handled (a failed handler gets the message again), relay checkpoints and committed
 * offsets. Passes the same contract suite as the Kafka bus.
 */
export class MemoryBus
  implements MessagePublisher, MessageSubscriber, OffsetReader, TopicAdmin, Pingable, ShardClaims
{
  readonly #topics = new Map<string, ReceivedMessage[][]>();
  /** Claimants of each sharded name and count, in the order they came. */
  readonly #claims = new Map<string, { count: number; claimants: Claimant[] }>();
  readonly #groups = new Map<string, Group>();
  readonly #checkpoints = new Map<string, RelayCheckpoint>();
  readonly #defaultPartitions: number;
  #notify = new Set<() => void>();

  constructor(options: { defaultPartitions?: number } = {}) {
    this.#defaultPartitions = options.defaultPartitions ?? 3;
    access.set(this, {
      holds: new RelayHolds(),
      append: (messages, checkpoint) => this.#append(messages, checkpoint),
      checkpoint: (relayId) => this.#checkpoints.get(relayId),
    });
  }

  ensureTopics(topics: readonly { topic: string; partitions?: number }[]): Promise<void> {
    for (const { topic, partitions } of topics) this.#topic(topic, partitions);
    this.#rebalanceAll();
    return Promise.resolve();
  }

  #topic(topic: string, partitions = this.#defaultPartitions): ReceivedMessage[][] {
    let log = this.#topics.get(topic);
    if (log === undefined) {
      log = Array.from({ length: partitions }, () => []);
      this.#topics.set(topic, log);
    }
    return log;
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  publish(messages: readonly BusMessage[], options: PublishOptions = {}): Promise<void> {
    return publishAs(this, this, messages, options);
  }

  #append(
    messages: readonly BusMessage[],
    checkpoint: { readonly relayId: string; readonly value: RelayCheckpoint } | undefined,
  ): void {
    const created = messages.some((m) => !this.#topics.has(m.topic));
    for (const message of messages) {
      const log = this.#topic(message.topic);
      const partition = partitionOf(message.key, log.length);
      const entries = log[partition]!;
      entries.push({
        topic: message.topic,
        partition,
        offset: String(entries.length),
        key: message.key,
        value: Buffer.from(message.value),
        headers: { ...message.headers },
      });
    }
    if (checkpoint !== undefined) {
      this.#checkpoints.set(checkpoint.relayId, { ...checkpoint.value });
    }
    if (created) this.#rebalanceAll();
    for (const wake of this.#notify) wake();
  }

  /**
   * Shares the shards round-robin among the claimants of the same name and count, in the order
   * they came.
   */
  async claimShards(options: ClaimShardsOptions): Promise<ShardClaim> {
    checkShardCount(options.count, 'count');
    const key = `${options.name}.${options.count}`;
    const claim = this.#claims.get(key) ?? { count: options.count, claimants: [] };
    this.#claims.set(key, claim);
    const claimant: Claimant = {
      onAssigned: options.onAssigned,
      owned: '',
      changes: Promise.resolve(),
    };
    claim.claimants.push(claimant);
    await this.#share(claim);
    return {
      ready: claimant.changes,
      stop: async () => {
        claim.claimants.splice(claim.claimants.indexOf(claimant), 1);
        await Promise.all([this.#tell(claimant, []), this.#share(claim)]);
      },
    };
  }

  #share(claim: { count: number; claimants: Claimant[] }): Promise<void> {
    const { count, claimants } = claim;
    return Promise.all(
      claimants.map((claimant, k) =>
        this.#tell(
          claimant,
          Array.from({ length: count }, (_, i) => i).filter((i) => i % claimants.length === k),
        ),
      ),
    ).then(() => {});
  }

  #tell(claimant: Claimant, shards: number[]): Promise<void> {
    claimant.changes = claimant.changes.then(async () => {
      if (shards.join() === claimant.owned) return;
      claimant.owned = shards.join();
      await claimant.onAssigned(shards).catch(() => {});
    });
    return claimant.changes;
  }

  /** The relay's last checkpoint; takes the relay over, as a relay recovering does. */
  readCheckpoint(relayId: string): Promise<RelayCheckpoint | undefined> {
    return readCheckpointAs(this, this, relayId);
  }

  endOffsets(topic: string): Promise<ReadonlyMap<number, bigint>> {
    const ends = new Map<number, bigint>();
    (this.#topics.get(topic) ?? []).forEach((log, partition) => {
      ends.set(partition, BigInt(log.length));
    });
    return Promise.resolve(ends);
  }

  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, bigint>> {
    const committed = new Map<number, bigint>();
    for (const [key, offset] of this.#groups.get(groupId)?.committed ?? []) {
      const at = key.lastIndexOf('/');
      if (key.slice(0, at) === topic) committed.set(Number(key.slice(at + 1)), BigInt(offset));
    }
    return Promise.resolve(committed);
  }

  #rebalanceAll(): void {
    for (const group of this.#groups.values()) this.#rebalance(group);
  }

  #rebalance(group: Group): void {
    const live = group.members.filter((m) => !m.stopped);
    for (const member of live) member.assigned = new Set();
    const topics = new Set(live.flatMap((m) => m.topics));
    let next = 0;
    for (const topic of [...topics].sort()) {
      const partitions = this.#topics.get(topic)?.length ?? 0;
      for (let partition = 0; partition < partitions; partition += 1) {
        const candidates = live.filter((m) => m.topics.includes(topic));
        if (candidates.length === 0) continue;
        candidates[next++ % candidates.length]!.assigned.add(`${topic}/${partition}`);
      }
    }
    for (const wake of this.#notify) wake();
  }

  subscribe(
    options: SubscribeOptions,
    handle: (message: ReceivedMessage) => Promise<void>,
  ): Promise<Subscription> {
    let group = this.#groups.get(options.groupId);
    if (group === undefined) {
      group = { committed: new Map(), members: [], start: options.start ?? 'earliest' };
      this.#groups.set(options.groupId, group);
    }
    const member: Member = {
      topics: [...options.topics],
      handle,
      stopped: false,
      assigned: new Set(),
      inFlight: new Set(),
    };
    group.members.push(member);
    this.#rebalance(group);
    const running = this.#consume(group, member);
    return Promise.resolve({
      ready: Promise.resolve(),
      stop: async () => {
        member.stopped = true;
        for (const wake of this.#notify) wake();
        await running;
        this.#rebalance(group);
      },
    });
  }

  async #consume(group: Group, member: Member): Promise<void> {
    const busy = new Set<string>();
    while (!member.stopped) {
      let started = false;
      for (const key of member.assigned) {
        if (busy.has(key)) continue;
        const at = key.lastIndexOf('/');
        const log = this.#topics.get(key.slice(0, at))?.[Number(key.slice(at + 1))] ?? [];
        if (!group.committed.has(key))
          group.committed.set(key, group.start === 'earliest' ? 0 : log.length);
        const offset = group.committed.get(key)!;
        const message = log[offset];
        if (message === undefined) continue;
        started = true;
        busy.add(key);
        const work = member.handle(message).then(
          () => {
            // Commit only if the partition is still ours and nobody moved on meanwhile.
            if (group.committed.get(key) === offset) group.committed.set(key, offset + 1);
          },
          // A failed handler: the message is delivered again, after a short pause.
          () => new Promise<void>((resolve) => setTimeout(resolve, 20)),
        );
        const tracked = work.finally(() => {
          busy.delete(key);
          member.inFlight.delete(tracked);
          for (const wake of this.#notify) wake();
        });
        member.inFlight.add(tracked);
      }
      if (!started) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.#notify.delete(wake);
            resolve();
          };
          this.#notify.add(wake);
          setTimeout(wake, 50);
        });
      }
    }
    await Promise.all(member.inFlight);
  }

  /** A client of this bus whose `close` ends only its own subscriptions. */
  client(): MemoryBusClient {
    return new MemoryBusClient(this);
  }

  close(): Promise<void> {
    for (const group of this.#groups.values()) for (const m of group.members) m.stopped = true;
    for (const wake of this.#notify) wake();
    return Promise.resolve();
  }
}

/**
 * One client's view of a {@link MemoryBus}, as each service holds its own Kafka client: the same
 * topics and groups, but `close` ends only the subscriptions made through it.
 */
export class MemoryBusClient
  implements MessagePublisher, MessageSubscriber, OffsetReader, TopicAdmin, Pingable, ShardClaims
{
  readonly #bus: MemoryBus;
  /** Subscriptions and shard claims made through this client and still running. */
  readonly #running = new Set<Subscription | ShardClaim>();

  constructor(bus: MemoryBus) {
    this.#bus = bus;
  }

  ensureTopics(topics: readonly { topic: string; partitions?: number }[]): Promise<void> {
    return this.#bus.ensureTopics(topics);
  }

  ping(): Promise<void> {
    return this.#bus.ping();
  }

  publish(...[messages, options]: Parameters<MemoryBus['publish']>): Promise<void> {
    return publishAs(this.#bus, this, messages, options);
  }

  readCheckpoint(relayId: string): Promise<RelayCheckpoint | undefined> {
    return readCheckpointAs(this.#bus, this, relayId);
  }

  async claimShards(options: ClaimShardsOptions): Promise<ShardClaim> {
    return this.#track(await this.#bus.claimShards(options));
  }

  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, bigint>> {
    return this.#bus.committedOffsets(groupId, topic);
  }

  endOffsets(topic: string): Promise<ReadonlyMap<number, bigint>> {
    return this.#bus.endOffsets(topic);
  }

  async subscribe(
    options: SubscribeOptions,
    handle: (message: ReceivedMessage) => Promise<void>,
  ): Promise<Subscription> {
    return this.#track(await this.#bus.subscribe(options, handle));
  }

  /** Remembers a subscription or a claim until it stops, so that `close` can stop it. */
  #track<T extends Subscription | ShardClaim>(running: T): T {
    const tracked = {
      ...running,
      stop: async () => {
        this.#running.delete(tracked);
        await running.stop();
      },
    };
    this.#running.add(tracked);
    return tracked;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#running].map((s) => s.stop()));
  }
}

/** Publishes through the bus in a client's name: with a checkpoint, only while it holds the relay. */
function publishAs(
  bus: MemoryBus,
  client: object,
  messages: readonly BusMessage[],
  options: PublishOptions = {},
): Promise<void> {
  const { holds, append } = access.get(bus)!;
  const { checkpoint, beforeCommit } = options;
  const commit = () => {
    const fenced = checkpoint === undefined ? undefined : holds.check(client, checkpoint.relayId);
    if (fenced !== undefined) return Promise.reject(fenced);
    append(messages, checkpoint);
    return Promise.resolve();
  };
  return beforeCommit === undefined ? commit() : beforeCommit.then(commit);
}

function readCheckpointAs(
  bus: MemoryBus,
  client: object,
  relayId: string,
): Promise<RelayCheckpoint | undefined> {
  const { holds, checkpoint } = access.get(bus)!;
  holds.take(client, relayId);
  const read = checkpoint(relayId);
  return Promise.resolve(read === undefined ? undefined : { ...read });
}
