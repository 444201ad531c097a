import type { BusMessage } from './envelope.js';

/**
 * Where a relay got to: the sequence number of its last published batch and the relay instance
 * that published it. Published atomically with the batch, so that it is exactly as durable.
 */
export interface RelayCheckpoint {
  readonly sequence: number;
  readonly instance: string;
}

/** Options of {@link MessagePublisher.publish}. */
export interface PublishOptions {
  /** A relay's checkpoint, visible if and only if the messages are. @default none */
  readonly checkpoint?: { readonly relayId: string; readonly value: RelayCheckpoint };
  /**
   * Waited for before the unit is committed, while it is sent: should it reject, nothing is
   * published and `publish` rejects with its reason (give it a handler of your own too: it may
   * reject before `publish` looks at it). The relay records its batch meanwhile, instead of
   * before sending it. @default none
   */
  readonly beforeCommit?: Promise<unknown>;
}

/** Port: publishes messages. */
export interface MessagePublisher {
  /**
   * Publishes the messages as one unit: read-committed consumers see all of them or none, and
   * each partition receives them in the order given. With a checkpoint, the checkpoint becomes
   * visible if and only if the messages do.
   */
  publish(messages: readonly BusMessage[], options?: PublishOptions): Promise<void>;
  /**
   * The last checkpoint published for the relay, if any. Reading it takes the relay over: every
   * other process's publishes with the relay's checkpoint fail from then on (until that process
   * reads the checkpoint, or publishes with it again after the failure, taking it back), and the
   * checkpoint read is the one of the last batch that any process published before.
   */
  readCheckpoint(relayId: string): Promise<RelayCheckpoint | undefined>;
  close(): Promise<void>;
}

/** Port: creates topics. */
export interface TopicAdmin {
  /** Creates the topics that do not exist yet, with the given partitions. */
  ensureTopics(
    topics: readonly { readonly topic: string; readonly partitions?: number }[],
  ): Promise<void>;
}

/** Anything whose connectivity readiness reports. */
export interface Pingable {
  /** Resolves when the server answers; rejects saying why not. */
  ping(): Promise<void>;
}

/** Port: reads how far consumer groups got. */
export interface OffsetReader {
  /**
   * The committed offset (the next message the group will read) per partition of the topic;
   * partitions without a committed offset are absent.
   */
  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, bigint>>;
  /** The end offset (the offset the next message will get) per partition of the topic. */
  endOffsets(topic: string): Promise<ReadonlyMap<number, bigint>>;
}

/** A message received from a topic partition. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string, as Kafka offsets exceed 2^53. */
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Options of a subscription. */
export interface SubscribeOptions {
  /** Consumer group id. */
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a new group starts. @default 'earliest' */
  readonly start?: 'earliest' | 'latest';
  /** Told when the consumer crashed and the bus restarted it. @default ignore */
  readonly onRestart?: (error: unknown) => void;
  /**
   * What must be handled in order. `'partition'`: the messages of a partition one at a time.
   * `'key'`: only those of one key (in partition order); a bus may handle the messages of a
   * partition's fetch with other keys side by side (a bus may also stay with `'partition'`). The
   * offset committed never passes a message not handled yet. @default 'partition'
   */
  readonly ordering?: 'partition' | 'key';
}

/**
 * Port: delivers the messages of a consumer group. Messages of one partition are handled one at a
 * time, in order (or only those of one key, see {@link SubscribeOptions.ordering}); the offset is
 * committed only after the handler resolved. A handler that throws
 * stops the subscription (the processor runtime never lets one throw for a bad message).
 */
export interface MessageSubscriber {
  subscribe(
    options: SubscribeOptions,
    handle: (message: ReceivedMessage) => Promise<void>,
  ): Promise<Subscription>;
}

/** A running subscription. */
export interface Subscription {
  /** Resolves once the consumer has joined its group and been assigned partitions. */
  readonly ready: Promise<void>;
  /** Finishes the message in hand, commits, and leaves the group. */
  stop(): Promise<void>;
}
