import { backoffDelay, defaultBackoff, sleep, type BackoffPolicy } from './backoff.js';
import type { Commit } from './commit.js';
import type { EntityStore } from './entity-store.js';
import { eventMessage, type BusMessage } from './envelope.js';
import { invalidArgument } from './errors.js';
import type { EventSerde } from './event-serde.js';
import type { MessagePublisher } from './message-bus.js';

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  readonly store: EntityStore;
  readonly publisher: MessagePublisher;
  readonly serde: EventSerde;
  /** Entity types whose commits this relay publishes. */
  readonly entityTypes: readonly string[];
  /** Commits read and published per round. @default 200 */
  readonly batchSize?: number;
  /** Pause when the outbox is empty. @default 20 */
  readonly idleMs?: number;
  /** Backoff after a failed round (database or broker unavailable). @default {@link defaultBackoff} */
  readonly backoff?: BackoffPolicy;
  /** Told about each failed round, before the retry. @default ignore */
  readonly onError?: (error: unknown) => void;
  /**
   * Called between publishing a batch and marking it published: the window in which a crash
   * makes the relay publish the batch again. For fault-injection tests. @default none
   */
  readonly afterPublish?: (commits: readonly Commit[]) => Promise<void> | void;
}

/**
 * Publishes the events of committed but unpublished commits, then marks the commits published.
 * A crash before the publish loses nothing (the commits stay unpublished and are published after
 * restart); a crash after the publish and before the mark publishes them again, which consumers
 * drop by event id. Events of one entity are published in commit order.
 */
export class OutboxRelay {
  readonly #options: Required<Omit<OutboxRelayOptions, 'afterPublish'>> &
    Pick<OutboxRelayOptions, 'afterPublish'>;
  #running: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: OutboxRelayOptions) {
    if (options.entityTypes.length === 0) {
      throw invalidArgument('entityTypes', 'must name at least one entity type');
    }
    const batchSize = options.batchSize ?? 200;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw invalidArgument('batchSize', `must be a positive integer (got ${batchSize})`);
    }
    this.#options = {
      batchSize,
      idleMs: options.idleMs ?? 20,
      backoff: options.backoff ?? defaultBackoff,
      onError: options.onError ?? (() => {}),
      ...options,
    };
  }

  /** Publishes one batch per entity type; returns the number of commits published. */
  async runOnce(): Promise<number> {
    let published = 0;
    for (const entityType of this.#options.entityTypes) {
      const commits = await this.#options.store.unpublished(entityType, this.#options.batchSize);
      if (commits.length === 0) continue;
      const messages: BusMessage[] = [];
      for (const commit of commits) {
        for (const event of commit.events) {
          const encoded = await this.#options.serde.encode(event.type, event.payload);
          messages.push(eventMessage(event, encoded.value, encoded.schema));
        }
      }
      if (messages.length > 0) await this.#options.publisher.publish(messages);
      await this.#options.afterPublish?.(commits);
      await this.#options.store.markPublished(entityType, commits);
      published += commits.length;
    }
    return published;
  }

  /** Starts publishing in the background until {@link stop}. */
  start(): void {
    if (this.#running !== undefined) return;
    this.#stopping = false;
    this.#running = this.#loop();
  }

  /** Wakes an idle relay at once (after a commit). */
  notify(): void {
    this.#wake?.();
  }

  /** Finishes the round in hand and stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    this.#running = undefined;
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      let pause: number;
      try {
        const published = await this.runOnce();
        failures = 0;
        pause = published > 0 ? 0 : this.#options.idleMs;
      } catch (error) {
        failures += 1;
        this.#options.onError(error);
        pause = backoffDelay(this.#options.backoff, failures);
      }
      if (pause > 0 && !this.#stopping) {
        await Promise.race([
          sleep(pause),
          new Promise<void>((resolve) => {
            this.#wake = resolve;
          }),
        ]);
        this.#wake = undefined;
      }
    }
  }
}
