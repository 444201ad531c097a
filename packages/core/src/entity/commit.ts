/** Metadata every event carries, inherited from what caused the commit. */
export interface EventMetadata {
  /** The saga (correlation) id: set by the first event of a saga, then carried along. */
  readonly sagaId: string;
  /** The id of the message (event or command) that caused this commit. */
  readonly causationId: string;
  /** The service that produced the event. */
  readonly service: string;
  /** W3C trace context of the command that produced the event, when traced. */
  readonly traceparent?: string;
}

/** An event waiting in a commit's outbox, and later published as is. */
export interface OutboxEvent {
  /** Unique and stable: derived from entity type, id, version and index. */
  readonly eventId: string;
  /** The event type, e.g. `OrderCreated`. */
  readonly type: string;
  readonly entityType: string;
  readonly entityId: string;
  /** Version of the commit that holds the event. */
  readonly version: number;
  /** Position of the event in its commit. */
  readonly index: number;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly metadata: EventMetadata;
  /** ISO-8601 time at which the command produced the event. */
  readonly occurredAt: string;
  /**
   * Set when this entry is a command for another entity rather than an event: the relay
   * publishes it to that entity's command topic, with `type` and `payload` as the command's.
   */
  readonly command?: {
    readonly commandId: string;
    readonly entityType: string;
    readonly entityId: string;
  };
}

/**
 * One state change of one entity: the new state, its version, the events to publish and the
 * dedupe key of the message that caused it. Stores write a commit as one document, in one write,
 * so that all of it happens or none of it does.
 */
export interface Commit<S = unknown> {
  readonly entityType: string;
  readonly entityId: string;
  /** 1 for the first commit of an entity, then +1 each time. */
  readonly version: number;
  readonly state: S;
  readonly events: readonly OutboxEvent[];
  /**
   * Identifies the message that caused the commit, unique per entity: a second commit with the
   * same key is refused, which is how a redelivered message is applied only once.
   */
  readonly causationKey: string;
  /** Where the causing message was read, when it came from a topic: bounds how long the key is kept. */
  readonly source?: MessageSource;
  /** ISO-8601 time of the commit. */
  readonly committedAt: string;
  /**
   * True when `state` is the previous version's state (the initial state before version 1) with
   * this commit's events applied in order by the entity's `evolve`, outbox commands left out: a
   * store given the entity's {@link StateReplay} may then keep the state of such commits only
   * every few versions and rebuild the others from their events. Set by the entity service.
   * @default false: the state is stored with the commit
   */
  readonly replayable?: boolean;
  /**
   * A silent change (a `StateChange` without events): nothing to publish, so a store keeps it out
   * of its outbox and a relay skips it.
   */
  readonly silent?: true;
}

/**
 * A commit as read back to publish or compact it: all but its state, which a store may keep only
 * every few versions (see {@link Commit.replayable}).
 */
export type CommitRecord = Omit<Commit, 'state'>;

/**
 * How an entity's state is rebuilt from its events: its initial state and its `evolve`, as the
 * entity defines them. Given to {@link EntityStore.prepare}, it lets a store write a large state
 * only every few versions.
 */
export interface StateReplay {
  initialState(): unknown;
  evolve(state: unknown, event: { readonly type: string; readonly payload: object }): unknown;
}

/** The position of a consumed message, as seen by the consumer group that handled it. */
export interface MessageSource {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** Decimal string. */
  readonly offset: string;
}

/** The current state of an entity and the version it is at (0 when it has no commit yet). */
export interface EntitySnapshot<S> {
  readonly state: S;
  readonly version: number;
}
