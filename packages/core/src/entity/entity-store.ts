import type { Commit, CommitRecord, EntitySnapshot, StateReplay } from './commit.js';
import type { Shard } from '../messaging/shards.js';

/** Why {@link EntityStore.append} refused a commit. */
export type AppendOutcome<S> =
  | { readonly status: 'appended' }
  /** Another commit took this version first: load again and retry. */
  | { readonly status: 'conflict' }
  /** A commit with this causation key exists: the message was applied already. */
  | { readonly status: 'duplicate'; readonly existing: Commit<S> };

/**
 * Port: where entities live, together with their outbox. Implementations must make `append`
 * atomic and exclusive: of two commits with the same entity and version, or the same entity and
 * causation key, exactly one is stored.
 */
export interface EntityStore {
  /**
   * Prepares storage for an entity type (collections, indexes); safe to call again. With the
   * entity's `replay`, the store may keep the state of a replayable commit (see
   * {@link Commit.replayable}) only every few versions, rebuilding the others on load: the cost of
   * a commit then follows its events, not the size of the state.
   */
  prepare(entityType: string, replay?: StateReplay): Promise<void>;
  /**
   * The latest state of the entity, or undefined when it has no commit. With `mayBeStale`, a
   * store may answer from what it saw last without asking the database (a version another process
   * wrote since may be missing): for a command, whose append of the next version then conflicts
   * and which is retried on a fresh load.
   */
  load<S>(
    entityType: string,
    entityId: string,
    options?: { readonly mayBeStale?: boolean },
  ): Promise<EntitySnapshot<S> | undefined>;
  /** Writes the commit in one atomic write, if its version and causation key are free. */
  append<S>(commit: Commit<S>): Promise<AppendOutcome<S>>;
  /**
   * Commits whose events are not yet marked published, oldest versions of each entity first, so
   * that publishing them in this order keeps each entity's events in order; with a shard, only
   * those of the entities in it (see `shardOf`).
   */
  unpublished(
    entityType: string,
    limit: number,
    options?: { readonly shard?: Shard },
  ): Promise<CommitRecord[]>;
  /**
   * How many commits wait to be published, and since when the oldest of them does (absent when
   * none does): what the outbox backlog metrics report.
   */
  outboxBacklog(entityType: string): Promise<OutboxBacklog>;
  /** Whether a commit is marked published (its events are out, in order after the ones before). */
  isPublished(commit: CommitRef): Promise<boolean>;
  /** Marks commits as published (idempotent). */
  markPublished(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version' | 'causationKey'>[],
  ): Promise<void>;
  /**
   * Published commits made before the given time that are not the latest of their entity: what
   * compaction may forget, oldest first.
   */
  compactable(entityType: string, committedBefore: string, limit: number): Promise<CommitRecord[]>;
  /** Deletes commits (never call it for the latest commit of an entity). */
  deleteCommits(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version'>[],
  ): Promise<void>;
  /**
   * Records which commits a relay batch is about to publish, before it publishes them. A relay
   * process records a batch only once the one before the last is marked published, so a store
   * needs to keep only the two latest batches of each relay process (`instance`): a batch
   * replaces the one two sequence numbers before it.
   */
  saveRelayBatch(batch: RelayBatch): Promise<void>;
  /** A recorded relay batch, if it is still one of the two latest of its relay process. */
  loadRelayBatch(
    relayId: string,
    instance: string,
    sequence: number,
  ): Promise<RelayBatch | undefined>;
  /** Forgets one recorded batch of a relay, or all of them. */
  deleteRelayBatches(
    relayId: string,
    only?: { readonly instance: string; readonly sequence: number },
  ): Promise<void>;
}

/** The unpublished commits of an entity type. */
export interface OutboxBacklog {
  readonly pending: number;
  /** ISO-8601 time at which the oldest pending commit was recorded. */
  readonly oldestAt?: string;
}

/** A reference to one commit. */
export interface CommitRef {
  readonly entityType: string;
  readonly entityId: string;
  readonly version: number;
  /** Tells this commit from another writer's attempt at the same version. */
  readonly causationKey: string;
}

/** The commits one relay batch publishes, recorded before it publishes them. */
export interface RelayBatch {
  readonly relayId: string;
  /** The relay process that made the batch. */
  readonly instance: string;
  /** 1, 2, … per instance. */
  readonly sequence: number;
  readonly commits: readonly CommitRef[];
}
