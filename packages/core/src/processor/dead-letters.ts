import type { MessageSubscriber, ReceivedMessage, Subscription } from '../messaging/message-bus.js';
import { deadLetterHeaders, groupOfDeadLetterTopic } from './processor.js';
import { commitDeadLetterKind } from '../messaging/outbox-relay.js';

/** A dead letter, as the admin API shows it: the original message and why it failed. */
export interface DeadLetterRecord {
  /**
   * `<dead-letter topic>/<partition>/<offset>`: where the index read it, which whoever wrote the
   * record cannot choose (a dead letter sent twice is listed twice; replaying both applies it once).
   */
  readonly id: string;
  /** The consumer group that could not handle it: the one its dead-letter topic belongs to. */
  readonly group: string;
  /**
   * Where the message came from, as the record says. Shown, never used: a replay goes to the
   * group's replay topic (see `replayTopic`), whatever the record names.
   */
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: string;
  readonly reason: string;
  readonly errorCode: string;
  readonly attempts: number;
  readonly failedAt: string;
  readonly eventType?: string;
  readonly sagaId?: string;
  readonly key: string | null;
  /** The original bytes, base64. */
  readonly value: string;
  /** The original headers, without the dead-letter ones. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * `commit`: a commit the outbox relay set aside because its events cannot be encoded (its value
   * is the commit as JSON; it cannot be replayed). Absent: a message a consumer could not handle.
   */
  readonly kind?: 'commit';
  /** Who replayed it, and when. */
  readonly replays: readonly { readonly by: string; readonly at: string }[];
}

/** Port: the index of dead letters that the admin API reads. */
export interface DeadLetterStore {
  prepare(): Promise<void>;
  /** Records a dead letter once; false when it was recorded already. */
  record(letter: DeadLetterRecord): Promise<boolean>;
  /** Newest first, optionally of one source topic. */
  list(query: {
    sourceTopic?: string;
    limit: number;
    after?: string;
  }): Promise<{ letters: DeadLetterRecord[]; next?: string }>;
  get(id: string): Promise<DeadLetterRecord | undefined>;
  recordReplay(id: string, replay: { by: string; at: string }): Promise<void>;
}

const DLQ_PREFIX = 'sagaflow-dlq-';

/**
 * Reads a dead-letter message into a record; undefined when it lacks the dead-letter headers. Its
 * id and group come from where it was read (the dead-letter topic, partition and offset), not
 * from its headers: a record written by anyone else cannot take a real letter's id or another
 * group's name.
 */
export function deadLetterRecordOf(message: ReceivedMessage): DeadLetterRecord | undefined {
  const h = message.headers;
  const sourceTopic = h[deadLetterHeaders.sourceTopic];
  if (h[deadLetterHeaders.id] === undefined || sourceTopic === undefined) return undefined;
  const id = `${message.topic}/${message.partition}/${message.offset}`;
  const original = Object.fromEntries(
    Object.entries(h).filter(([name]) => !name.startsWith(DLQ_PREFIX)),
  );
  return {
    id,
    // A commit the relay set aside names its relay (it is never replayed); a message, the group
    // whose dead-letter topic holds it.
    group:
      (h[deadLetterHeaders.kind] === commitDeadLetterKind
        ? undefined
        : groupOfDeadLetterTopic(message.topic)) ??
      h[deadLetterHeaders.group] ??
      '',
    sourceTopic,
    sourcePartition: Number(h[deadLetterHeaders.sourcePartition] ?? -1),
    sourceOffset: h[deadLetterHeaders.sourceOffset] ?? '',
    reason: h[deadLetterHeaders.reason] ?? '',
    errorCode: h[deadLetterHeaders.errorCode] ?? '',
    attempts: Number(h[deadLetterHeaders.attempts] ?? 0),
    failedAt: h[deadLetterHeaders.failedAt] ?? '',
    ...(original['sagaflow-event-type'] === undefined
      ? {}
      : { eventType: original['sagaflow-event-type'] }),
    ...(original['sagaflow-saga-id'] === undefined ? {} : { sagaId: original['sagaflow-saga-id'] }),
    ...(h[deadLetterHeaders.kind] === commitDeadLetterKind ? { kind: 'commit' as const } : {}),
    key: message.key,
    value: (message.value ?? Buffer.alloc(0)).toString('base64'),
    headers: original,
    replays: [],
  };
}

/** Keeps the dead-letter index: a consumer group on the dead-letter topics. */
export class DeadLetterIndexer {
  readonly #subscriber: MessageSubscriber;
  readonly #store: DeadLetterStore;
  readonly #topics: readonly string[];
  readonly #groupId: string;
  #subscription: Subscription | undefined;

  constructor(options: {
    subscriber: MessageSubscriber;
    store: DeadLetterStore;
    topics: readonly string[];
    /** @default 'sagaflow-dead-letters' */
    groupId?: string;
  }) {
    this.#subscriber = options.subscriber;
    this.#store = options.store;
    this.#topics = options.topics;
    this.#groupId = options.groupId ?? 'sagaflow-dead-letters';
  }

  async start(): Promise<void> {
    await this.#store.prepare();
    this.#subscription = await this.#subscriber.subscribe(
      { groupId: this.#groupId, topics: this.#topics },
      async (message) => {
        const letter = deadLetterRecordOf(message);
        if (letter !== undefined) await this.#store.record(letter);
      },
    );
    await this.#subscription.ready;
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
  }
}
