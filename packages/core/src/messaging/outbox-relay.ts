import { defaultBackoff, type BackoffPolicy } from '../backoff.js';
import { BackgroundLoop } from '../service/background-loop.js';
import type { Commit } from '../entity/commit.js';
import type { CommitRef, EntityStore } from '../entity/entity-store.js';
import { commandMessage } from '../entity/command-message.js';
import { eventMessage, headerNames, type BusMessage } from './envelope.js';
import { invalidArgument } from '../errors.js';
import type { EventSerde } from './event-serde.js';
import { newId } from '../ids.js';
import type { MessagePublisher } from './message-bus.js';
import { noMetrics, type SagaflowMetrics } from '../telemetry/instrumentation.js';
import { inSpan, linkTo, spanAttributes, SpanKind } from '../telemetry/telemetry.js';

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  /**
   * Stable id of the relay, the same in every instance of the service, e.g.
   * `inventory-service.relay`. With Kafka, give the publisher the same id as its transactional
   * id: a restarted relay then fences the instance it replaces.
   */
  readonly relayId: string;
  readonly store: EntityStore;
  readonly publisher: MessagePublisher;
  readonly serde: EventSerde;
  /** Entity types whose commits this relay publishes. */
  readonly entityTypes: readonly string[];
  /** Commits read and published per batch. @default 200 */
  readonly batchSize?: number;
  /**
   * Pause when the outbox is empty: a fallback, as a commit in this process wakes the relay at
   * once (commits of other processes wait for it). @default 250
   */
  readonly idleMs?: number;
  /** Backoff after a failed round (database or broker unavailable). @default {@link defaultBackoff} */
  readonly backoff?: BackoffPolicy;
  /** Told about each failed round, before the retry. @default ignore */
  readonly onError?: (error: unknown) => void;
  /**
   * Called between publishing a batch and marking it published, the window that the
   * checkpoint covers. For fault-injection tests. @default none
   */
  readonly afterPublish?: (commits: readonly Commit[]) => Promise<void> | void;
  /** Counts the events published. @default none */
  readonly metrics?: SagaflowMetrics;
}

/**
 * Publishes the events of committed but unpublished commits, then marks the commits published.
 *
 * Every batch is recorded in the store, then published as one transaction together with a
 * checkpoint (the batch's sequence number), then marked. A crash before the publish loses
 * nothing: the commits stay unpublished and the transaction, if begun, is aborted. A crash after
 * the publish and before the mark is repaired at restart: the relay reads its checkpoint, finds
 * the recorded batch and marks it, so its events are not published a second time. Events of one
 * entity are published in commit order.
 */
export class OutboxRelay {
  readonly #options: Required<Omit<OutboxRelayOptions, 'afterPublish' | 'metrics'>> &
    Pick<OutboxRelayOptions, 'afterPublish'>;
  readonly #metrics: SagaflowMetrics;
  readonly #instance = newId();
  #sequence = 0;
  #recovered = false;
  readonly #loop: BackgroundLoop;

  constructor(options: OutboxRelayOptions) {
    if (typeof options.relayId !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(options.relayId)) {
      throw invalidArgument(
        'relayId',
        `must be 1 to 200 letters, digits, '.', '_' or '-' (got '${options.relayId}')`,
      );
    }
    if (options.entityTypes.length === 0) {
      throw invalidArgument('entityTypes', 'must name at least one entity type');
    }
    const batchSize = options.batchSize ?? 200;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw invalidArgument('batchSize', `must be a positive integer (got ${batchSize})`);
    }
    this.#options = {
      idleMs: 250,
      backoff: defaultBackoff,
      onError: () => {},
      ...options,
      batchSize,
    };
    this.#metrics = options.metrics ?? noMetrics;
    // A full batch may leave more behind: go on at once. A smaller one emptied the outbox as far
    // as this process knows: a commit made meanwhile wakes the loop (see `notify`), and commits
    // of other processes wait for `idleMs`. That spares a read of every outbox after each batch.
    this.#loop = new BackgroundLoop(async () => (await this.runOnce()) >= batchSize, this.#options);
  }

  /** Marks what the last checkpointed batch published, then forgets recorded batches. */
  async #recover(): Promise<void> {
    const { store, publisher, relayId } = this.#options;
    const checkpoint = await publisher.readCheckpoint(relayId);
    if (checkpoint !== undefined) {
      const batch = await store.loadRelayBatch(relayId, checkpoint.instance, checkpoint.sequence);
      if (batch !== undefined) await this.#mark(batch.commits);
    }
    await store.deleteRelayBatches(relayId);
    this.#recovered = true;
  }

  async #mark(commits: readonly CommitRef[]): Promise<void> {
    const byType = new Map<string, CommitRef[]>();
    for (const ref of commits) {
      const refs = byType.get(ref.entityType);
      if (refs === undefined) byType.set(ref.entityType, [ref]);
      else refs.push(ref);
    }
    for (const [entityType, refs] of byType)
      await this.#options.store.markPublished(entityType, refs);
  }

  /** Publishes one batch; returns the number of commits published. */
  async runOnce(): Promise<number> {
    const { store, publisher, serde, relayId, entityTypes, batchSize } = this.#options;
    try {
      if (!this.#recovered) await this.#recover();
      const commits: Commit[] = [];
      for (const entityType of entityTypes) {
        if (commits.length >= batchSize) break;
        commits.push(...(await store.unpublished(entityType, batchSize - commits.length)));
      }
      if (commits.length === 0) return 0;
      const messages: BusMessage[] = [];
      for (const commit of commits) {
        for (const event of commit.events) {
          const encoded = await serde.encode(event.type, event.payload);
          messages.push(
            event.command === undefined
              ? eventMessage(event, encoded.value, encoded.schema)
              : commandMessage(
                  {
                    ...event.command,
                    type: event.type,
                    sagaId: event.metadata.sagaId,
                    service: event.metadata.service,
                    occurredAt: event.occurredAt,
                    ...(event.metadata.traceparent === undefined
                      ? {}
                      : { traceparent: event.metadata.traceparent }),
                  },
                  encoded.value,
                  encoded.schema,
                ),
          );
        }
      }
      const refs = commits.map(({ entityType, entityId, version }) => ({
        entityType,
        entityId,
        version,
      }));
      const sequence = ++this.#sequence;
      await store.saveRelayBatch({ relayId, instance: this.#instance, sequence, commits: refs });
      await inSpan(
        `${relayId} publish`,
        {
          kind: SpanKind.PRODUCER,
          remote: true,
          // The batch's span links to each event's producer span (at most 128 links).
          links: () =>
            messages
              .slice(0, 128)
              .map((m) => linkTo(m.headers[headerNames.traceparent]))
              .filter((link) => link !== undefined),
          attributes: () => ({
            [spanAttributes.system]: 'kafka',
            [spanAttributes.operation]: 'send',
            [spanAttributes.batchSize]: messages.length,
          }),
        },
        () =>
          publisher.publish(messages, {
            checkpoint: { relayId, value: { sequence, instance: this.#instance } },
          }),
      );
      this.#metrics.published(commits.flatMap((c) => c.events.map((e) => e.type)));
      await this.#options.afterPublish?.(commits);
      await this.#mark(refs);
      await store.deleteRelayBatches(relayId, { instance: this.#instance, sequence });
      return commits.length;
    } catch (error) {
      // The outcome of the last publish may be unknown: recover before the next batch.
      this.#recovered = false;
      throw error;
    }
  }

  /** Starts publishing in the background until {@link stop}. */
  start(): void {
    this.#loop.start();
  }

  /** Wakes an idle relay at once (after a commit). */
  notify(): void {
    this.#loop.wake();
  }

  /** Finishes the batch in hand and stops. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
