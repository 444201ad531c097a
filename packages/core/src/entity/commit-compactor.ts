import { defaultBackoff, type BackoffPolicy } from '../backoff.js';
import { BackgroundLoop } from '../service/background-loop.js';
import type { CommitRecord } from './commit.js';
import type { EntityStore } from './entity-store.js';
import { invalidArgument } from '../errors.js';
import type { OffsetReader } from '../messaging/message-bus.js';

/** Options of {@link CommitCompactor}. */
export interface CommitCompactorOptions {
  readonly store: EntityStore;
  readonly offsets: OffsetReader;
  readonly entityTypes: readonly string[];
  /**
   * Commits younger than this are always kept. It is the window in which an HTTP idempotency key
   * is honoured, and in which replaying a dead letter cannot re-apply what its failed attempt had
   * already done. Keep it far above the time for which a store trusts the versions it saw
   * (`MongoEntityStore`'s `trustSeenMs`, 30 s by default), in every process. @default 7 days
   */
  readonly minRetentionMs?: number;
  /** Commits examined per entity type and round. @default 500 */
  readonly batchSize?: number;
  /** Pause between rounds. @default 60000 */
  readonly intervalMs?: number;
  /** @default {@link defaultBackoff} */
  readonly backoff?: BackoffPolicy;
  readonly onError?: (error: unknown) => void;
  /** Clock, for tests. @default () => new Date() */
  readonly clock?: () => Date;
}

/**
 * Keeps the commit history, and with it the dedupe keys, bounded. A commit is forgotten when it
 * is published, is not the latest of its entity (which holds the state), is older than the
 * minimum retention and, if a consumed message caused it, that message can no longer be
 * delivered to its group again: the group's committed offset has moved past it. Until then its
 * causation key stays and refuses a redelivery; after it, Kafka does not redeliver the message.
 */
export class CommitCompactor {
  readonly #options: Required<Omit<CommitCompactorOptions, 'onError' | 'clock'>> &
    Pick<CommitCompactorOptions, 'onError'> & { clock: () => Date };
  readonly #loop: BackgroundLoop;

  constructor(options: CommitCompactorOptions) {
    const minRetentionMs = options.minRetentionMs ?? 7 * 24 * 3600 * 1000;
    if (!Number.isFinite(minRetentionMs) || minRetentionMs < 0) {
      throw invalidArgument(
        'minRetentionMs',
        `must be a non-negative number (got ${minRetentionMs})`,
      );
    }
    this.#options = {
      batchSize: 500,
      intervalMs: 60_000,
      backoff: defaultBackoff,
      clock: () => new Date(),
      ...options,
      minRetentionMs,
    };
    this.#loop = new BackgroundLoop(
      async () => {
        await this.runOnce();
        return false;
      },
      {
        idleMs: this.#options.intervalMs,
        backoff: this.#options.backoff,
        onError: this.#options.onError ?? (() => {}),
      },
    );
  }

  /** One round over every entity type; returns the number of commits forgotten. */
  async runOnce(): Promise<number> {
    const { store, offsets, entityTypes, batchSize, minRetentionMs, clock } = this.#options;
    const before = new Date(clock().getTime() - minRetentionMs).toISOString();
    let forgotten = 0;
    for (const entityType of entityTypes) {
      const candidates = await store.compactable(entityType, before, batchSize);
      const horizons = new Map<string, Promise<ReadonlyMap<number, bigint>>>();
      const forgettable: CommitRecord[] = [];
      for (const commit of candidates) {
        const source = commit.source;
        if (source === undefined) {
          forgettable.push(commit);
          continue;
        }
        const key = `${source.group}\u0000${source.topic}`;
        let horizon = horizons.get(key);
        if (horizon === undefined) {
          horizon = offsets.committedOffsets(source.group, source.topic);
          horizons.set(key, horizon);
        }
        const committed = (await horizon).get(source.partition);
        if (committed !== undefined && BigInt(source.offset) < committed) forgettable.push(commit);
      }
      if (forgettable.length > 0) await store.deleteCommits(entityType, forgettable);
      forgotten += forgettable.length;
    }
    return forgotten;
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
