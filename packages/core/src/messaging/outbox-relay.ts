import { defaultBackoff, type BackoffPolicy } from '../backoff.js';
import { BackgroundLoop } from '../service/background-loop.js';
import { setBounded } from '../bounded-map.js';
import type { CommitRecord } from '../entity/commit.js';
import type { CommitRef, EntityStore } from '../entity/entity-store.js';
import { commandMessage } from '../entity/command-message.js';
import {
  commandsTopic,
  eventMessage,
  eventsTopic,
  headerNames,
  type BusMessage,
} from './envelope.js';
import { invalidArgument, SagaflowError } from '../errors.js';
import { deadLetterHeaders } from '../processor/processor.js';
import type { EventSerde } from './event-serde.js';
import { newId } from '../ids.js';
import type { MessagePublisher } from './message-bus.js';
import { inShard, type Shard } from './shards.js';
import { noMetrics, type SagaflowMetrics } from '../telemetry/instrumentation.js';
import { inSpan, linkTo, spanAttributes, SpanKind } from '../telemetry/telemetry.js';

/** Entities whose latest published version a relay remembers. */
const PUBLISHED_REMEMBERED = 10_000;

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
  /**
   * The shard whose commits this relay publishes (see `shardOf`); another relay, with its own
   * id, publishes each other shard. @default all commits
   */
  readonly shard?: Shard;
  /** Commits read and published per batch. @default 200 */
  readonly batchSize?: number;
  /**
   * How often the relay reads the outboxes from the store when it has nothing in hand: commits of
   * this process are handed to it in memory (see {@link OutboxRelay.notify}) and published at
   * once; those of other processes, and any left by a failure, are found by this read.
   * @default 250
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
  readonly afterPublish?: (commits: readonly CommitRecord[]) => Promise<void> | void;
  /** Counts the events published. @default none */
  readonly metrics?: SagaflowMetrics;
  /**
   * Where a commit goes whose events can never be encoded (a terminal serde error: its event
   * type gone from the catalog, a payload its schema no longer accepts): a dead letter naming the
   * commit and the reason, published in the batch's transaction, and the commit marked published,
   * so that the rest of the outbox flows. Without it such a commit fails every round.
   * @default none
   */
  readonly deadLetterTopic?: string;
}

/** Tells a commit dead letter (the relay's) from a message's (a processor's). */
export const commitDeadLetterKind = 'commit';

/** A terminal encoding failure: retrying cannot help (a registry outage, say, is retriable). */
const isPoison = (error: unknown): error is SagaflowError =>
  error instanceof SagaflowError && !error.retriable;

/**
 * Publishes the events of committed but unpublished commits, then marks the commits published.
 *
 * Every batch is published as one transaction together with a checkpoint (the batch's sequence
 * number), recorded in the store while it is sent (the transaction commits once the record is
 * written), then marked. A batch is marked while the next one is recorded and published (the
 * store keeps a relay process's two latest batches), and the next but one waits for that
 * marking. A crash before the publish loses nothing: the commits stay unpublished and the
 * transaction, if begun, is aborted. A crash after the publish and before the mark is repaired
 * at restart: the relay reads its checkpoint, finds the recorded batch and the one before it and
 * marks both, so their events are not published a second time. Events of one entity are
 * published in commit order.
 */
export class OutboxRelay {
  readonly #options: Required<
    Omit<OutboxRelayOptions, 'afterPublish' | 'metrics' | 'shard' | 'deadLetterTopic'>
  > &
    Pick<OutboxRelayOptions, 'afterPublish' | 'shard' | 'deadLetterTopic'>;
  readonly #metrics: SagaflowMetrics;
  readonly #instance = newId();
  #sequence = 0;
  #recovered = false;
  readonly #loop: BackgroundLoop;
  /** Commits of this process handed over in memory, in commit order, not yet published. */
  #handed: CommitRecord[] = [];
  /** When the outboxes were last read from the store (0: read them in the next round). */
  #readAt = 0;
  /** Which entity type is read first in the next read. */
  #turn = -1;
  /**
   * The latest version of each entity this relay published (a bounded map, oldest entries
   * dropped): a handed commit whose previous version is here, or which is the first, can go at
   * once; another one waits for a read of the outboxes, which finds what precedes it.
   */
  readonly #published = new Map<string, number>();

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
    this.#loop = new BackgroundLoop(
      async () => (await this.runOnce()) >= batchSize || this.#handed.length > 0,
      this.#options,
    );
  }

  /**
   * Marks what the last two checkpointed batches published (the last one's predecessor may have
   * been still in marking), then forgets recorded batches.
   */
  async #recover(): Promise<void> {
    const { store, publisher, relayId } = this.#options;
    await this.#settleMarking().catch(() => {});
    // Batches this relay saw published and has not marked: whatever the checkpoint reads (it
    // names the last two batches only, and markings can fail several rounds in a row while the
    // database restarts), they are marked, or their commits would be left out of every batch as
    // published and stay in the outbox for good (a command sent again would wait for them
    // forever).
    for (const refs of [...this.#owed]) {
      await this.#mark(refs);
      this.#owed.delete(refs);
    }
    const checkpoint = await publisher.readCheckpoint(relayId);
    if (checkpoint !== undefined) {
      for (const sequence of [checkpoint.sequence - 1, checkpoint.sequence]) {
        if (sequence < 1) continue;
        const batch = await store.loadRelayBatch(relayId, checkpoint.instance, sequence);
        if (batch !== undefined) await this.#mark(batch.commits);
      }
    }
    await store.deleteRelayBatches(relayId);
    this.#recovered = true;
  }

  /** The marking of the last published batch, if one is under way. */
  #marking: Promise<void> | undefined;
  /** Batches published (their transaction committed) and not marked yet. */
  readonly #owed = new Set<readonly CommitRef[]>();

  /** Waits for the last batch's marking; rejects if it failed. */
  async #settleMarking(): Promise<void> {
    const marking = this.#marking;
    this.#marking = undefined;
    await marking;
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

  #wasPublished(commit: Pick<CommitRecord, 'entityType' | 'entityId' | 'version'>): boolean {
    const latest = this.#published.get(`${commit.entityType}/${commit.entityId}`);
    return latest !== undefined && latest >= commit.version;
  }

  #remember(commits: readonly CommitRecord[]): void {
    for (const { entityType, entityId, version } of commits) {
      setBounded(this.#published, `${entityType}/${entityId}`, version, PUBLISHED_REMEMBERED);
    }
  }

  /**
   * The next batch, at most `batchSize` commits: the handed commits, and what a read of the
   * outboxes finds when one is due (after `idleMs`, after a failure, or when a handed commit's
   * previous version is not known to be published). Each entity's commits go in version order
   * and without a gap: a commit goes only after its previous version (published before, or
   * earlier in the batch), or as the first of its entity that the read found (the store lists an
   * entity's unpublished commits oldest first).
   */
  async #nextBatch(): Promise<CommitRecord[]> {
    const { store, entityTypes, batchSize, idleMs, shard } = this.#options;
    const keyOf = (c: CommitRecord) => `${c.entityType}/${c.entityId}@${c.version}`;
    const entityOf = (c: CommitRecord) => `${c.entityType}/${c.entityId}`;
    const handed = this.#handed.filter((c) => !this.#wasPublished(c));
    const byKey = new Map(handed.map((c) => [keyOf(c), c]));
    const inHand = new Set(byKey.keys());
    const follows = (c: CommitRecord) =>
      c.version === 1 ||
      this.#published.get(entityOf(c)) === c.version - 1 ||
      inHand.has(`${entityOf(c)}@${c.version - 1}`);
    /** The first commit of each entity that the read found. */
    const firstRead = new Set<string>();
    const reading = Date.now() - this.#readAt >= idleMs || !handed.every(follows);
    if (reading) {
      // The outboxes still hold the batch in marking, and would give it in place of newer
      // commits: read them once it is marked.
      await this.#settleMarking();
      this.#readAt = Date.now();
      // The entity types take turns at being read first, so that a busy one cannot starve the rest.
      this.#turn = (this.#turn + 1) % entityTypes.length;
      const order = [...entityTypes.slice(this.#turn), ...entityTypes.slice(0, this.#turn)];
      const seen = new Set<string>();
      let read = 0;
      for (const entityType of order) {
        if (read >= batchSize) break;
        const found = await store.unpublished(
          entityType,
          batchSize - read,
          shard === undefined ? {} : { shard },
        );
        for (const c of found) {
          read += 1;
          if (!seen.has(entityOf(c))) firstRead.add(keyOf(c));
          seen.add(entityOf(c));
          if (!this.#wasPublished(c)) byKey.set(keyOf(c), c);
        }
      }
    }
    // Entities in the order their commits came (handed ones first, oldest first), each one's
    // commits by version.
    const entities = new Map<string, CommitRecord[]>();
    for (const c of byKey.values()) {
      const commits = entities.get(entityOf(c));
      if (commits === undefined) entities.set(entityOf(c), [c]);
      else commits.push(c);
    }
    const sorted = [...entities.values()].flatMap((commits) =>
      commits.sort((a, b) => a.version - b.version),
    );
    const batch: CommitRecord[] = [];
    let previous: CommitRecord | undefined;
    for (const c of sorted) {
      if (batch.length >= batchSize) break;
      const chained =
        previous !== undefined && entityOf(previous) === entityOf(c)
          ? batch.at(-1) === previous && previous.version === c.version - 1
          : follows(c) || firstRead.has(keyOf(c));
      if (chained) batch.push(c);
      previous = c;
    }
    // A silent commit in hand that follows nothing known stays unknown to a read for good (a read
    // never finds one): the read takes its entity's next commit as the first it found instead.
    if (reading) {
      this.#handed = this.#handed.filter(
        (c) => c.silent !== true || batch.includes(c) || follows(c),
      );
    }
    return batch;
  }

  /** Publishes one batch; returns the number of commits published. */
  async runOnce(): Promise<number> {
    const { store, publisher, relayId } = this.#options;
    try {
      if (!this.#recovered) await this.#recover();
      const batch = await this.#nextBatch();
      if (batch.length === 0) {
        this.#handed = [];
        return 0;
      }
      // Silent commits are links of their entities' chains, with nothing to publish or mark.
      const commits = batch.filter((c) => c.silent !== true);
      if (commits.length === 0) {
        this.#remember(batch);
        this.#handed = this.#handed.filter((c) => !this.#wasPublished(c));
        return batch.length;
      }
      const messages: BusMessage[] = [];
      const setAside: string[] = [];
      for (const commit of commits) {
        try {
          messages.push(...(await this.#messagesOf(commit)));
        } catch (error) {
          const topic = this.#options.deadLetterTopic;
          if (topic === undefined || !isPoison(error)) throw error;
          messages.push(commitDeadLetter(topic, relayId, commit, error));
          setAside.push(commit.events[0]?.type ?? 'unknown');
        }
      }
      const refs = commits.map(({ entityType, entityId, version, causationKey }) => ({
        entityType,
        entityId,
        version,
        causationKey,
      }));
      const sequence = ++this.#sequence;
      // The record is written while the batch is sent, and the batch is committed only once it
      // is: a checkpoint never names a batch without its record.
      const recording = store.saveRelayBatch({
        relayId,
        instance: this.#instance,
        sequence,
        commits: refs,
      });
      recording.catch(() => {});
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
          publisher
            .publish(messages, {
              checkpoint: { relayId, value: { sequence, instance: this.#instance } },
              beforeCommit: recording,
            })
            // A failed publish is settled only with its record: a record written after the
            // recovery forgot the relay's records would be taken for a published batch later.
            .catch(async (error: unknown) => {
              await recording.catch(() => {});
              throw error;
            }),
      );
      this.#metrics.published(commits.flatMap((c) => c.events.map((e) => e.type)));
      for (const type of setAside) {
        this.#metrics.deadLettered({ group: relayId, type, code: 'SERDE_FAILED' });
      }
      await this.#options.afterPublish?.(commits);
      // Published: the next batch leaves these out whether or not they are marked yet, and
      // they stay owed a marking until one succeeds.
      this.#owed.add(refs);
      this.#remember(batch);
      this.#handed = this.#handed.filter((c) => !this.#wasPublished(c));
      // The previous batch's record is replaced by the next batch's: its marking ends first.
      // This batch is marked while the next one is recorded and published.
      await this.#settleMarking();
      const marking = this.#mark(refs).then(() => {
        this.#owed.delete(refs);
      });
      marking.catch(() => {});
      this.#marking = marking;
      return batch.length;
    } catch (error) {
      // The outcome of the last publish may be unknown: recover, and read the outboxes, before
      // the next batch (the handed commits are there too).
      this.#recovered = false;
      this.#readAt = 0;
      throw error;
    }
  }

  /** The messages of a commit's events, encoded; throws when one cannot be. */
  async #messagesOf(commit: CommitRecord): Promise<BusMessage[]> {
    const messages: BusMessage[] = [];
    for (const event of commit.events) {
      const encoded = await this.#options.serde.encode(event.type, event.payload);
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
    return messages;
  }

  /** Starts publishing in the background until {@link stop}. */
  start(): void {
    this.#loop.start();
  }

  /**
   * Hands a commit of this process to the relay (a commit already in the store), which publishes
   * it without reading the outbox; without one, only wakes the relay.
   */
  notify(commit?: CommitRecord): void {
    if (
      commit !== undefined &&
      this.#options.entityTypes.includes(commit.entityType) &&
      inShard(commit.entityId, this.#options.shard)
    ) {
      // A silent commit has nothing to publish. Right after its entity's published version it
      // counts as published at once; after a version still in hand it is kept in hand too, as a
      // link of its entity's chain, so that the next commit goes without a read of the outbox
      // (which never finds a silent commit).
      const entity = `${commit.entityType}/${commit.entityId}`;
      if (
        commit.silent === true &&
        (commit.version === 1 || this.#published.get(entity) === commit.version - 1)
      ) {
        this.#remember([commit]);
        return;
      }
      this.#handed.push(commit);
      if (commit.silent === true) return;
    }
    this.#loop.wake();
  }

  /** Finishes the batch in hand and its marking, and stops. */
  async stop(): Promise<void> {
    await this.#loop.stop();
    // A failed marking is repaired by the next relay's recovery.
    await this.#settleMarking().catch(() => {});
  }
}

/**
 * The dead letter of a commit whose events cannot be encoded: the commit as JSON (its events'
 * payloads as they were committed), with the dead-letter headers; its id names the commit, so a
 * batch published again after a crash records it once.
 */
function commitDeadLetter(
  topic: string,
  relayId: string,
  commit: CommitRecord,
  error: SagaflowError,
): BusMessage {
  const first = commit.events[0];
  return {
    topic,
    key: commit.entityId,
    value: Buffer.from(
      JSON.stringify({
        entityType: commit.entityType,
        entityId: commit.entityId,
        version: commit.version,
        causationKey: commit.causationKey,
        committedAt: commit.committedAt,
        events: commit.events.map((e) => ({
          type: e.type,
          eventId: e.eventId,
          payload: e.payload,
        })),
      }),
    ),
    headers: {
      ...(first === undefined
        ? {}
        : {
            [headerNames.eventId]: first.eventId,
            [headerNames.eventType]: first.type,
            [headerNames.sagaId]: first.metadata.sagaId,
          }),
      [headerNames.entityType]: commit.entityType,
      [headerNames.entityId]: commit.entityId,
      [headerNames.entityVersion]: String(commit.version),
      [deadLetterHeaders.id]: `commit/${commit.entityType}/${commit.entityId}@${commit.version}`,
      [deadLetterHeaders.kind]: commitDeadLetterKind,
      [deadLetterHeaders.reason]: `its events cannot be encoded, so the relay set it aside: ${error.message}`,
      [deadLetterHeaders.errorCode]: error.code,
      [deadLetterHeaders.sourceTopic]:
        first?.command === undefined
          ? eventsTopic(commit.entityType)
          : commandsTopic(first.command.entityType),
      [deadLetterHeaders.sourcePartition]: '-1',
      [deadLetterHeaders.sourceOffset]: `version ${commit.version}`,
      [deadLetterHeaders.group]: relayId,
      [deadLetterHeaders.attempts]: '1',
      [deadLetterHeaders.failedAt]: new Date().toISOString(),
    },
  };
}
