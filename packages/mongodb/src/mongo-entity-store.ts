import { LRUCache } from 'lru-cache';
import type {
  OutboxBacklog,
  AppendOutcome,
  Commit,
  CommitRecord,
  CommitRef,
  EntitySnapshot,
  EntityStore,
  Pingable,
  RelayBatch,
  StateReplay,
} from '@sagaflow/core';
import { inShard, invalidArgument, SagaflowError, type Shard } from '@sagaflow/core';
import { randomBytes } from 'node:crypto';
import { BSON, type Collection, type Db } from 'mongodb';
import { duplicateIndexes } from './duplicate-keys.js';

/** One commit, as stored: one document, written once by one insert. */
interface CommitDocument {
  /** `<entityId>@<version, 10 digits>`: the primary key makes one version win. */
  _id: string;
  entityId: string;
  version: number;
  /**
   * Absent when `omitted`: the state is then rebuilt from the snapshot below it (see
   * {@link SNAPSHOT_EVERY}) and the events of the commits since.
   */
  state?: unknown;
  /**
   * Set when the state was left out (a replayable commit of a large state, not at a snapshot
   * version). A copy in this process's cache may hold the rebuilt state beside it.
   */
  omitted?: true;
  events: Commit['events'];
  causationKey: string;
  source?: Commit['source'];
  committedAt: string;
  /** The append that wrote it: the same on its outbox marker. */
  writer?: string;
}

/** The latest version an entity is known to have reached: a hint, never ahead of the truth. */
interface HeadDocument {
  /** The entity id. */
  _id: string;
  version: number;
}

/**
 * A commit that may not be published yet, recorded by its writer before the commit is written.
 * Each append has its own marker (its writer is part of the id), so no write of one append ever
 * touches another's marker: a writer that loses the race for a version, or whose message was a
 * duplicate, deletes its own by id, and should it die first the relay does, seeing that the
 * commit of that version has another writer. Publishing deletes every marker of the version.
 */
interface OutboxDocument {
  /** `<commit _id>#<causation key>#<writer>` (earlier releases: without `#<writer>`). */
  _id: string;
  entityId: string;
  version: number;
  causationKey: string;
  /**
   * The append that recorded it, the same on the commit it wrote: of two attempts at one version
   * with one causation key (a message delivered twice, each decided on the same state), only the
   * one that wrote the commit has its marker published. Absent on markers of releases before
   * writer ids.
   */
  writer?: string;
  /** ISO-8601 time at which it was recorded. */
  at: string;
}

/** Whether a marker's append is the one that wrote the commit of its version. */
const wroteIt = (marker: OutboxDocument, doc: CommitDocument) =>
  doc.causationKey === marker.causationKey &&
  (doc.writer === undefined || marker.writer === undefined || doc.writer === marker.writer);

/** Causation keys remembered per commit kept in the cache (a key costs far less memory). */
const CAUSES_PER_CACHED_COMMIT = 10;

/**
 * Versions before a commit refused for its causation key that are read by _id for the commit
 * with that key, before it is looked up by key.
 */
const LATEST_READ = 8;

const causeOf = (entityType: string, entityId: string, causationKey: string) =>
  `${entityType}/${entityId}#${causationKey}`;

const markerId = (entityId: string, version: number, causationKey: string, writer: string) =>
  `${documentId(entityId, version)}#${causationKey}#${writer}`;

/** The filter of every marker of the given versions, whichever append recorded it. */
const markersOf = (commits: readonly Pick<Commit, 'entityId' | 'version'>[]) => ({
  $or: commits.map((c) => ({ entityId: c.entityId, version: c.version })),
});

/** How often a marker without its commit is looked at again. */
const ORPHAN_RECHECK_MS = 5000;
/**
 * A marker whose commit has not appeared this long after it was recorded belongs to a writer that
 * died between its two inserts (or whose command was a duplicate): it is deleted. Far beyond any
 * write's time, so a slow writer's commit is never left without its marker.
 */
const ORPHAN_MAX_AGE_MS = 10 * 60_000;
/** Markers without a commit tracked at once (each is looked at again every few seconds). */
const ORPHANS_TRACKED = 10_000;
/**
 * Appends move the head hint every this many versions (compaction moves it before it deletes):
 * a load in another process probes at most this many versions past it; the writing process
 * starts from the versions it has seen.
 */
const HEAD_EVERY = 8;
/**
 * A replayable commit of a large state is written without its state unless its version is a
 * multiple of this: the state of any version is then the one stored at or below it, at most this
 * many versions down, with the events since applied (version 0: the initial state). The head moves
 * only to versions that hold their state (appends move it at multiples of this).
 */
const SNAPSHOT_EVERY = HEAD_EVERY;

/** Whether a document holds its state (as stored, or rebuilt into a cached copy). */
const hasState = (doc: CommitDocument) => Object.hasOwn(doc, 'state');

/** The lowest version a load may need of an entity whose latest commit is `doc`. */
const keptFrom = (doc: CommitDocument) =>
  doc.omitted === true ? Math.floor(doc.version / SNAPSHOT_EVERY) * SNAPSHOT_EVERY : doc.version;

/** Runs the tasks with at most `width` at a time. */
async function inParallel<T>(
  items: readonly T[],
  width: number,
  task: (item: T) => Promise<unknown>,
) {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map(task));
  }
}

/**
 * One of the two latest relay batches of one relay process, as recorded before it is published:
 * two documents per relay process, the odd and the even sequence numbers, each replaced two
 * batches later (a crash leaves at most the batch in hand and the one in marking to repair).
 */
interface RelayBatchDocument extends RelayBatch {
  /** `<relayId>/<instance>/<sequence % 2>`. */
  _id: string;
}

const RELAY_BATCHES = 'sagaflow_relay_batches';
const batchId = (relayId: string, instance: string, sequence: number) =>
  `${relayId}/${instance}/${sequence % 2}`;

/** An append waiting for the next write of its entity type. */
interface QueuedAppend {
  readonly commit: Commit;
  readonly doc: CommitDocument;
  /** None for a silent commit: nothing to publish. */
  readonly marker: OutboxDocument | undefined;
  readonly done: (outcome: Promise<AppendOutcome<unknown>>) => void;
}

const documentId = (entityId: string, version: number) =>
  `${entityId}@${String(version).padStart(10, '0')}`;

/** A stored commit as the port gives it back: its state only where the document holds it. */
function toRecord(entityType: string, doc: CommitDocument): CommitRecord {
  return {
    entityType,
    entityId: doc.entityId,
    version: doc.version,
    ...(hasState(doc) ? { state: doc.state } : {}),
    events: doc.events,
    causationKey: doc.causationKey,
    ...(doc.source === undefined || doc.source === null ? {} : { source: doc.source }),
    committedAt: doc.committedAt,
  };
}

function unavailable(action: string, entityType: string, cause: unknown): SagaflowError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SagaflowError('STORE_UNAVAILABLE', `${action} ${entityType} failed: ${detail}`, {
    retriable: true,
    context: { entityType },
    cause,
  });
}

/**
 * {@link EntityStore} on MongoDB or FerretDB, without multi-document transactions. Each entity
 * type has a collection of commits, `<domain>_<entity>_commits`. A commit (state, version, outbox
 * events, causation key) is one document written by one insert, which is atomic everywhere:
 *
 * - the `_id` holds entity id and version, so of two commits of one version exactly one is
 *   stored (optimistic concurrency);
 * - a unique index on (entityId, causationKey) refuses a second commit caused by the same
 *   message (idempotent consumers).
 *
 * Conditional updates are not used for either: FerretDB v1 evaluates their condition and writes
 * in two steps, so they do not exclude a concurrent writer.
 *
 * The hot paths read documents by `_id` only, the one lookup that FerretDB v1 answers from an index
 * (on SQLite with the one-line patch `infra/local` builds it with; any other filter scans): `load` starts from a head document (`<..>_heads`, a
 * version written lately, moved every few versions: a hint that may lag) and probes the next versions by `_id`; the outbox is
 * a small collection of markers (`<..>_outbox`) written before each commit and deleted once it
 * is published, so that a commit document is never updated: published means without a marker.
 */
export class MongoEntityStore implements EntityStore, Pingable {
  readonly #db: Db;
  readonly #prepared = new Map<string, Promise<void>>();
  /** Outbox markers without a commit, and when they were last looked at. */
  readonly #orphans = new LRUCache<string, number>({ max: ORPHANS_TRACKED });
  /** Appends waiting for the write in flight of their entity type, and whether one is. */
  readonly #queued = new Map<string, QueuedAppend[]>();
  readonly #writing = new Set<string>();
  /**
   * Commits this process wrote or read lately. A commit is never changed once written, so a
   * cached one is what the database holds (or held, before compaction deleted an older one:
   * loads only ask for the version their head names, which compaction keeps).
   */
  readonly #commits: LRUCache<string, CommitDocument>;
  /**
   * Per entity type, a time no commit was older than when compaction last looked (the oldest
   * commit's `committedAt` then, lowered by every append of this store): while the retention cut-off
   * is not past it, `compactable` has nothing to offer and reads nothing. On FerretDB its query
   * scans the whole history (a range and a sort are not pushed down), which grows with every
   * commit.
   */
  readonly #oldest = new Map<string, string>();
  /** The latest version of each entity this process has seen (wrote or read); -1: behind. */
  readonly #known: LRUCache<string, number>;
  /**
   * The entities whose `#known` version this process wrote or read within the last
   * `trustSeenMs`: a command starts from that version without reading the head (none when
   * `trustSeenMs` is 0).
   */
  readonly #fresh: LRUCache<string, true> | undefined;
  /**
   * The version of each commit this process wrote or read, by entity and causation key: a
   * message applied already (a redelivery, a workflow's step sent again) is answered from it
   * with a read by `_id`, not refused by the unique index and then looked up by key, a read that
   * scans the whole collection on FerretDB.
   */
  readonly #causes: LRUCache<string, number>;

  readonly #freshPing: (() => Promise<void>) | undefined;
  /** How each prepared entity type rebuilds its state, where `prepare` was told. */
  readonly #replays = new Map<string, StateReplay>();
  readonly #snapshotBytes: number;

  /**
   * @param options.cachedCommits Commits kept in memory to spare reads of the latest ones.
   *   @default 2000
   * @param options.freshPing Pings the database with a client of its own (connected for the
   *   purpose and closed): lets {@link ping} tell a database that is down from a client that is
   *   stuck. @default none: a failed ping is the database's
   * @param options.snapshotBytes A replayable commit (see `Commit.replayable`) of an entity type
   *   prepared with its replay is written without its state when the state is larger than this
   *   (BSON bytes), except every few versions: the cost of a commit then follows its events, not
   *   the size of the state. @default 1024
   * @param options.trustSeenMs For this long after this process wrote or read an entity's
   *   latest version, a command starts from it without reading the entity's head (one read less
   *   per command): should another process have written since, the command's append conflicts
   *   and it loads afresh. The head is read otherwise, because compaction may have deleted
   *   versions since: keep the compaction's minimum retention (`minRetentionMs`, 7 days by
   *   default) far above this, in every process of the service. 0: always read the head.
   *   @default 30000
   */
  constructor(
    db: Db,
    options: {
      readonly cachedCommits?: number;
      readonly freshPing?: () => Promise<void>;
      readonly snapshotBytes?: number;
      readonly trustSeenMs?: number;
    } = {},
  ) {
    this.#db = db;
    this.#freshPing = options.freshPing;
    const max = options.cachedCommits ?? 2000;
    if (!Number.isInteger(max) || max < 1) {
      throw invalidArgument('cachedCommits', `must be a positive integer (got ${max})`);
    }
    const snapshotBytes = options.snapshotBytes ?? 1024;
    if (!Number.isInteger(snapshotBytes) || snapshotBytes < 0) {
      throw invalidArgument(
        'snapshotBytes',
        `must be a non-negative integer (got ${snapshotBytes})`,
      );
    }
    this.#snapshotBytes = snapshotBytes;
    this.#commits = new LRUCache({ max });
    this.#known = new LRUCache({ max });
    const trustSeenMs = options.trustSeenMs ?? 30_000;
    if (!Number.isInteger(trustSeenMs) || trustSeenMs < 0) {
      throw invalidArgument('trustSeenMs', `must be a non-negative integer (got ${trustSeenMs})`);
    }
    this.#fresh = trustSeenMs === 0 ? undefined : new LRUCache({ max, ttl: trustSeenMs });
    this.#causes = new LRUCache({ max: max * CAUSES_PER_CACHED_COMMIT });
  }

  /** A commit by its id: from the cache, else from the database (and then cached). */
  async #commit(entityType: string, id: string): Promise<CommitDocument | undefined> {
    const key = `${entityType}/${id}`;
    const cached = this.#commits.get(key);
    // A copy: whoever gets it may change it, the cache stays as written.
    if (cached !== undefined) return structuredClone(cached);
    const doc = await this.#collection(entityType).findOne({ _id: id });
    if (doc === null) return undefined;
    // The cache keeps its own copy: the one read goes to whoever asked.
    this.#cache(entityType, structuredClone(doc));
    return doc;
  }

  /** Keeps a commit in the cache (as given: pass a copy) and its causation key's version. */
  #cache(entityType: string, doc: CommitDocument): void {
    this.#commits.set(`${entityType}/${doc._id}`, doc);
    this.#causes.set(causeOf(entityType, doc.entityId, doc.causationKey), doc.version);
  }

  /** The version at which this process saw a commit with this commit's causation key. */
  #seenAt(commit: Commit): number | undefined {
    return this.#causes.get(causeOf(commit.entityType, commit.entityId, commit.causationKey));
  }

  /**
   * The outcome of a commit whose causation key this process saw at `version`: that commit, a
   * duplicate (undefined when it is gone: compacted, in any process).
   */
  async #knownDuplicate(
    commit: Commit,
    version: number | undefined,
  ): Promise<AppendOutcome<unknown> | undefined> {
    if (version === undefined || version === commit.version) return undefined;
    try {
      // Read from the database, not the cache: a commit compaction deleted (in any process) no
      // longer refuses its message, as the unique index would not.
      const existing = await this.#collection(commit.entityType).findOne({
        _id: documentId(commit.entityId, version),
      });
      if (existing?.causationKey !== commit.causationKey) return undefined;
      const { state } = await this.#withState(commit.entityType, existing);
      return {
        status: 'duplicate',
        existing: { ...toRecord(commit.entityType, existing), state },
      };
    } catch (error) {
      if (error instanceof SagaflowError) throw error;
      throw unavailable('appending to', commit.entityType, error);
    }
  }

  #collection(entityType: string): Collection<CommitDocument> {
    return this.#db.collection<CommitDocument>(`${entityType.replaceAll('.', '_')}_commits`);
  }

  #heads(entityType: string): Collection<HeadDocument> {
    return this.#db.collection<HeadDocument>(`${entityType.replaceAll('.', '_')}_heads`);
  }

  #outbox(entityType: string): Collection<OutboxDocument> {
    return this.#db.collection<OutboxDocument>(`${entityType.replaceAll('.', '_')}_outbox`);
  }

  /** Moves the head hint to a version (last writer wins: it may lag, never lead). */
  async #advanceHead(entityType: string, entityId: string, version: number): Promise<void> {
    await this.#heads(entityType).replaceOne({ _id: entityId }, { version }, { upsert: true });
  }

  /** Records the latest version of an entity, as this process just wrote or read it. */
  #know(entityType: string, entityId: string, version: number): void {
    const key = `${entityType}/${entityId}`;
    const known = this.#known.get(key) ?? 0;
    if (known > version) return;
    this.#known.set(key, version);
    this.#fresh?.set(key, true);
  }

  /** What this process knew of an entity is behind: the next load looks in the database. */
  #behind(entityType: string, entityId: string): void {
    const key = `${entityType}/${entityId}`;
    // -1: known to be behind, so not taken for a new entity either.
    this.#known.set(key, -1);
    this.#fresh?.delete(key);
  }

  /**
   * The latest commit of an entity, found by `_id` upwards from the head hint or the latest
   * version this process has seen, whichever is higher. The hint is read unless a command starts
   * from a version this process wrote or read within `trustSeenMs`: a version it saw earlier may
   * have been compacted since, and compaction moves the hint first.
   */
  async #latest(
    entityType: string,
    entityId: string,
    mayBeStale = false,
  ): Promise<CommitDocument | undefined> {
    const collection = this.#collection(entityType);
    const key = `${entityType}/${entityId}`;
    const seen = this.#known.get(key);
    // For a command, the latest version this process wrote or read lately (0: it found none):
    // no version after it can have been compacted since (it would be younger than the
    // compaction's retention), so a later one, written by another process, makes the append
    // conflict.
    if (mayBeStale && seen !== undefined && seen >= 0 && this.#fresh?.has(key) === true) {
      if (seen === 0) return undefined;
      const cached = this.#commits.get(`${entityType}/${documentId(entityId, seen)}`);
      if (cached !== undefined) return structuredClone(cached);
    }
    const head = await this.#heads(entityType).findOne({ _id: entityId });
    const known = this.#known.get(key) ?? 0;
    // For a command, the version this process saw last is the latest as far as the head tells:
    // start from it without probing further. A later version written by another process is found by the
    // append, whose insert of the next version then conflicts (and forgets what was known): no
    // later version can have been compacted, as compaction moves the head past it first.
    if (mayBeStale && known > 0 && known >= (head?.version ?? 0)) {
      const cached = this.#commits.get(`${entityType}/${documentId(entityId, known)}`);
      if (cached !== undefined) return structuredClone(cached);
    }
    // Neither a head nor a version seen: most likely a new entity (the head moves every few
    // versions, so one with its first few commits has none; the append of version 1 then
    // conflicts and the command loads afresh).
    if (mayBeStale && known === 0 && head === null) return undefined;
    const hinted = Math.max(head?.version ?? 0, known);
    let version = hinted;
    let latest =
      version === 0 ? undefined : await this.#commit(entityType, documentId(entityId, version));
    /** Whether `latest` is the cache's own object (`#commit` gives copies, a read is cached as one). */
    let fromCache = false;
    // Without a hint the entity has no commit, or only its first ones (the hint moves every few
    // versions, and compaction moves it before deleting anything): probing upwards finds them.
    for (;;) {
      // A version this process wrote or read is there (commits never change): no read for it.
      const key = `${entityType}/${documentId(entityId, version + 1)}`;
      const cached = this.#commits.get(key);
      const next = cached ?? (await collection.findOne({ _id: documentId(entityId, version + 1) }));
      if (next === null) {
        // A missing hinted version was compacted: the latest is further up, and exists.
        if (latest === undefined && version > 0 && version < hinted + 1000) {
          version += 1;
          continue;
        }
        break;
      }
      latest = next;
      version += 1;
      fromCache = cached !== undefined;
      if (!fromCache) this.#cache(entityType, structuredClone(next));
    }
    if (latest === undefined) {
      // No head, and no first version: the entity has no commit yet.
      if (hinted === 0) this.#know(entityType, entityId, 0);
      return undefined;
    }
    this.#know(entityType, entityId, latest.version);
    // A copy of a cached one, made once: whoever gets it may change it.
    return fromCache ? structuredClone(latest) : latest;
  }

  /**
   * Drops the state from the cached copy of a version stored without it, once a later version is
   * cached: only the latest version is loaded, and a large state held for every cached version
   * would cost the memory the database was spared.
   */
  #forgetRebuilt(entityType: string, entityId: string, version: number): void {
    const key = `${entityType}/${documentId(entityId, version)}`;
    const cached = this.#commits.peek(key);
    if (cached?.omitted !== true || !hasState(cached)) return;
    const { state: _state, ...stored } = cached;
    this.#commits.set(key, stored);
  }

  /**
   * A commit document with its state: as read when it holds it, else rebuilt from the nearest
   * version below it that holds one (a snapshot version at the furthest, or the initial state
   * below the first) with the events since applied by the entity type's replay. The rebuilt copy
   * is cached.
   */
  async #withState(entityType: string, doc: CommitDocument): Promise<CommitDocument> {
    if (hasState(doc)) return doc;
    const replay = this.#replays.get(entityType);
    if (replay === undefined) {
      throw new SagaflowError(
        'INVALID_DEFINITION',
        `${entityType} ${doc.entityId}@${doc.version} is stored without its state, and this store was not prepared with the entity's replay`,
        { retriable: false, context: { entityType, entityId: doc.entityId } },
      );
    }
    const chain = [doc];
    let state: unknown;
    for (let version = doc.version - 1; ; version -= 1) {
      if (version === 0) {
        state = replay.initialState();
        break;
      }
      const earlier = await this.#commit(entityType, documentId(doc.entityId, version));
      if (earlier === undefined) {
        // Compacted meanwhile (compaction keeps the snapshot a load needs, and moves the head to
        // it first): a fresh load starts from there.
        throw new Error(
          `${entityType} ${doc.entityId}@${version} was compacted while its state was rebuilt`,
        );
      }
      if (hasState(earlier)) {
        state = earlier.state;
        break;
      }
      chain.push(earlier);
    }
    for (const { events } of chain.reverse()) {
      for (const event of events) {
        if (event.command === undefined) state = replay.evolve(state, event);
      }
    }
    const rebuilt: CommitDocument = { ...doc, state };
    this.#cache(entityType, structuredClone(rebuilt));
    return rebuilt;
  }

  /**
   * Resolves when the database answers `ping`. When it does not, and `freshPing` (see the
   * constructor) reaches it, rejects with `CLIENT_STUCK`: this client will not recover.
   */
  async ping(): Promise<void> {
    try {
      await this.#db.command({ ping: 1 });
    } catch (error) {
      const freshPing = this.#freshPing;
      if (
        freshPing === undefined ||
        !(await freshPing().then(
          () => true,
          () => false,
        ))
      ) {
        throw error;
      }
      throw new SagaflowError(
        'CLIENT_STUCK',
        `the database answers a fresh client but not this process's (${error instanceof Error ? error.message : String(error)})`,
        { retriable: false, cause: error },
      );
    }
  }

  prepare(entityType: string, replay?: StateReplay): Promise<void> {
    if (replay !== undefined) this.#replays.set(entityType, replay);
    let prepared = this.#prepared.get(entityType);
    if (prepared === undefined) {
      const collection = this.#collection(entityType);
      prepared = Promise.all([
        collection.createIndex(
          { entityId: 1, causationKey: 1 },
          { unique: true, name: 'causation' },
        ),
        collection.createIndex({ committedAt: 1 }, { name: 'committed-at' }),
      ]).then(
        () => undefined,
        (error: unknown) => {
          this.#prepared.delete(entityType);
          throw unavailable('preparing the commits of', entityType, error);
        },
      );
      this.#prepared.set(entityType, prepared);
    }
    return prepared;
  }

  async load<S>(
    entityType: string,
    entityId: string,
    options: { readonly mayBeStale?: boolean } = {},
  ): Promise<EntitySnapshot<S> | undefined> {
    try {
      const latest = await this.#latest(entityType, entityId, options.mayBeStale === true);
      if (latest === undefined) return undefined;
      const doc = await this.#withState(entityType, latest);
      return { state: doc.state as S, version: doc.version };
    } catch (error) {
      if (error instanceof SagaflowError && !error.retriable) throw error;
      throw unavailable('loading', entityType, error);
    }
  }

  /**
   * Appends made while a write of the same entity type is in flight wait for it and go together
   * in the next one: one `insertMany` of their markers, then one of their commits, so that under
   * load a round trip carries many commits.
   */
  append<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
    // A message applied already, as this process knows: answered without a write.
    const seenAt = this.#seenAt(commit);
    if (seenAt !== undefined) {
      return this.#knownDuplicate(commit, seenAt).then(
        (known) => (known as AppendOutcome<S> | undefined) ?? this.#enqueue(commit),
      );
    }
    return this.#enqueue(commit);
  }

  #enqueue<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
    const id = documentId(commit.entityId, commit.version);
    const writer = randomBytes(8).toString('hex');
    const omitted =
      commit.replayable === true &&
      commit.version % SNAPSHOT_EVERY !== 0 &&
      this.#replays.has(commit.entityType) &&
      BSON.calculateObjectSize({ state: commit.state }) > this.#snapshotBytes;
    const doc: CommitDocument = {
      _id: id,
      entityId: commit.entityId,
      version: commit.version,
      ...(omitted ? { omitted: true } : { state: commit.state }),
      events: commit.events,
      causationKey: commit.causationKey,
      ...(commit.source === undefined ? {} : { source: commit.source }),
      committedAt: commit.committedAt,
      writer,
    };
    const marker: OutboxDocument | undefined =
      commit.silent === true
        ? undefined
        : {
            _id: markerId(commit.entityId, commit.version, commit.causationKey, writer),
            entityId: commit.entityId,
            version: commit.version,
            causationKey: commit.causationKey,
            writer,
            at: new Date().toISOString(),
          };
    return new Promise<AppendOutcome<unknown>>((resolve, reject) => {
      const queue = this.#queued.get(commit.entityType) ?? [];
      queue.push({
        commit,
        doc,
        marker,
        done: (outcome) => {
          outcome.then(resolve, reject);
        },
      });
      this.#queued.set(commit.entityType, queue);
      if (!this.#writing.has(commit.entityType)) void this.#write(commit.entityType);
    }) as Promise<AppendOutcome<S>>;
  }

  /** Writes what is queued for an entity type, then what was queued meanwhile, until none is. */
  async #write(entityType: string): Promise<void> {
    this.#writing.add(entityType);
    try {
      for (;;) {
        const batch = this.#queued.get(entityType) ?? [];
        if (batch.length === 0) return;
        this.#queued.delete(entityType);
        const outcomes = this.#appendAll(entityType, batch);
        batch.forEach((queued, i) => queued.done(outcomes.then((all) => all[i]!)));
        await outcomes.catch(() => {});
      }
    } finally {
      this.#writing.delete(entityType);
    }
  }

  async #appendAll(
    entityType: string,
    batch: readonly QueuedAppend[],
  ): Promise<AppendOutcome<unknown>[]> {
    const outbox = this.#outbox(entityType);
    const collection = this.#collection(entityType);
    try {
      // The markers first: a crash after the commits must not leave them out of the outbox.
      const markers = batch.flatMap((q) => (q.marker === undefined ? [] : [q.marker]));
      if (markers.length > 0) await outbox.insertMany(markers, { ordered: false });
      let refused = new Set<number>();
      await collection
        .insertMany(
          batch.map((q) => q.doc),
          { ordered: false },
        )
        .catch((error: unknown) => {
          const indexes = duplicateIndexes(error, batch.length);
          if (indexes === undefined) throw error;
          refused = indexes;
        });
      const heads: Promise<unknown>[] = [];
      const outcomes = await Promise.all(
        batch.map(async ({ commit, doc }, i): Promise<AppendOutcome<unknown>> => {
          if (refused.has(i)) return this.#refused(commit);
          // With its state, though the database has it without: the next load needs no rebuild.
          this.#cache(entityType, structuredClone({ ...doc, state: commit.state }));
          this.#forgetRebuilt(entityType, commit.entityId, commit.version - 1);
          this.#know(entityType, commit.entityId, commit.version);
          const oldest = this.#oldest.get(entityType);
          if (oldest !== undefined && commit.committedAt < oldest) {
            this.#oldest.set(entityType, commit.committedAt);
          }
          if (commit.version % HEAD_EVERY === 0) {
            heads.push(this.#advanceHead(entityType, commit.entityId, commit.version));
          }
          return { status: 'appended' };
        }),
      );
      // A writer that lost its version, or whose message was applied already, takes its own
      // marker back (should it die first, the relay deletes it: the commit it names has another
      // writer).
      const lost = batch.flatMap((q, i) =>
        refused.has(i) && q.marker !== undefined ? [q.marker._id] : [],
      );
      if (lost.length > 0) await outbox.deleteMany({ _id: { $in: lost } });
      await Promise.all(heads);
      return outcomes;
    } catch (error) {
      // Whether the commits were written is unknown: their entities are behind in this process.
      for (const { commit } of batch) this.#behind(entityType, commit.entityId);
      throw unavailable('appending to', entityType, error);
    }
  }

  /**
   * The commit with the refused commit's causation key among the {@link LATEST_READ} versions
   * before it, read by _id all at once.
   */
  async #amongLatest(
    collection: Collection<CommitDocument>,
    commit: Commit,
  ): Promise<CommitDocument | undefined> {
    const versions = Array.from(
      { length: Math.min(LATEST_READ, commit.version - 1) },
      (_, i) => commit.version - 1 - i,
    );
    const docs = await Promise.all(
      versions.map((version) => collection.findOne({ _id: documentId(commit.entityId, version) })),
    );
    return docs.find((doc) => doc?.causationKey === commit.causationKey) ?? undefined;
  }

  /** Which key refused an insert: a conflict (the version is taken) or a duplicate (the causation). */
  async #refused(commit: Commit): Promise<AppendOutcome<unknown>> {
    const collection = this.#collection(commit.entityType);
    // Whatever this process knew of the entity is behind: the next load looks in the database.
    this.#behind(commit.entityType, commit.entityId);
    // FerretDB does not say which index refused the insert: a taken version is a conflict (a
    // retry on the fresh state finds a duplicate, if it is one); a free version means the
    // causation key.
    if (
      (await collection.findOne(
        { _id: documentId(commit.entityId, commit.version) },
        { projection: { _id: 1 } },
      )) !== null
    ) {
      return { status: 'conflict' };
    }
    const known = await this.#knownDuplicate(commit, this.#seenAt(commit));
    if (known !== undefined) return known;
    // A key this process never saw (a message delivered again after a restart, mostly): the
    // entity's latest commits are read by _id first, as a message delivered again is mostly
    // among them; only a key older than those is looked up by key, which scans the whole
    // collection on FerretDB, at a cost that grows with the data.
    const existing =
      (await this.#amongLatest(collection, commit)) ??
      (await collection.findOne({ entityId: commit.entityId, causationKey: commit.causationKey }));
    if (existing === null) return { status: 'conflict' };
    this.#cache(commit.entityType, structuredClone(existing));
    const { state } = await this.#withState(commit.entityType, existing);
    return {
      status: 'duplicate',
      existing: { ...toRecord(commit.entityType, existing), state },
    };
  }

  async unpublished(
    entityType: string,
    limit: number,
    options: { readonly shard?: Shard } = {},
  ): Promise<CommitRecord[]> {
    const outbox = this.#outbox(entityType);
    try {
      // The outbox holds only unpublished markers: read whole, a shard's picked here.
      const markers = (await outbox.find({}).toArray())
        .filter((m) => inShard(m.entityId, options.shard))
        .sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
      const commits: CommitRecord[] = [];
      // Once each, though an earlier release's marker of the same message (no writer) is there.
      const taken = new Set<string>();
      const take = (doc: CommitDocument) => {
        if (taken.has(doc._id)) return;
        taken.add(doc._id);
        commits.push(toRecord(entityType, doc));
      };
      const now = Date.now();
      const forget: string[] = [];
      for (const marker of markers) {
        if (commits.length >= limit) break;
        const doc = await this.#commit(entityType, documentId(marker.entityId, marker.version));
        if (doc !== undefined) {
          this.#orphans.delete(marker._id);
          // The commit of this version is another writer's: this marker's writer lost the race
          // (or its message was a duplicate, or it died before its commit) and did not take its
          // marker back. The commit's own writer recorded a marker of its own.
          if (wroteIt(marker, doc)) take(doc);
          else forget.push(marker._id);
          continue;
        }
        // No commit at this version: one in flight, one whose writer died between its two
        // inserts or whose message was a duplicate, or one compacted after it was published.
        if ((this.#orphans.get(marker._id) ?? 0) > now - ORPHAN_RECHECK_MS) continue;
        this.#orphans.set(marker._id, now);
        const latest = await this.#latest(entityType, marker.entityId);
        const old = Date.parse(marker.at) < now - ORPHAN_MAX_AGE_MS;
        if ((latest?.version ?? 0) < marker.version && !old) continue;
        // The entity is past this version, or the marker is long dead: the commit landed
        // meanwhile, was compacted, or will never come.
        const landed = await this.#collection(entityType).findOne({
          _id: documentId(marker.entityId, marker.version),
        });
        this.#orphans.delete(marker._id);
        if (landed !== null && wroteIt(marker, landed)) {
          take(landed);
        } else {
          forget.push(marker._id);
        }
      }
      // By id: no other append's marker has it.
      if (forget.length > 0) await outbox.deleteMany({ _id: { $in: forget } });
      return commits;
    } catch (error) {
      throw unavailable('reading the outbox of', entityType, error);
    }
  }

  async outboxBacklog(entityType: string): Promise<OutboxBacklog> {
    try {
      const outbox = this.#outbox(entityType);
      // The outbox holds only markers of unpublished commits: small, read whole in one query.
      const markers = await outbox.find({}, { projection: { at: 1 } }).toArray();
      let oldestAt: string | undefined;
      for (const { at } of markers) if (oldestAt === undefined || at < oldestAt) oldestAt = at;
      return { pending: markers.length, ...(oldestAt === undefined ? {} : { oldestAt }) };
    } catch (error) {
      throw unavailable('reading the outbox of', entityType, error);
    }
  }

  async isPublished(commit: CommitRef): Promise<boolean> {
    try {
      // Any marker of the version with the commit's key: the commit's own, or one of an attempt
      // that lost or died, which the relay deletes soon (until then the answer is not yet).
      const marker = await this.#outbox(commit.entityType).findOne(
        {
          entityId: commit.entityId,
          version: commit.version,
          causationKey: commit.causationKey,
        },
        { projection: { _id: 1 } },
      );
      return marker === null;
    } catch (error) {
      throw unavailable('reading the outbox of', commit.entityType, error);
    }
  }

  async markPublished(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version' | 'causationKey'>[],
  ): Promise<void> {
    if (commits.length === 0) return;
    try {
      // One deleteMany, of every marker of these versions: a version's commit is written, so
      // any other marker of it is a lost or dead attempt's. The outbox holds only unpublished
      // markers, so it is small.
      await this.#outbox(entityType).deleteMany(markersOf(commits));
    } catch (error) {
      throw unavailable('marking published in', entityType, error);
    }
  }

  async compactable(
    entityType: string,
    committedBefore: string,
    limit: number,
  ): Promise<CommitRecord[]> {
    const collection = this.#collection(entityType);
    const oldest = this.#oldest.get(entityType);
    if (oldest !== undefined && committedBefore <= oldest) return [];
    try {
      // Published commits are those without an outbox marker.
      const pending = new Set(
        (
          await this.#outbox(entityType)
            .find({}, { projection: { entityId: 1, version: 1 } })
            .toArray()
        ).map((m) => documentId(m.entityId, m.version)),
      );
      const docs = (
        await collection
          .find({ committedAt: { $lt: committedBefore } })
          .sort({ committedAt: 1 })
          .limit(limit + pending.size)
          .toArray()
      )
        .filter((doc) => !pending.has(doc._id))
        .slice(0, limit);
      if (docs.length === 0) {
        // Nothing older than the cut-off: remember the oldest commit (or now, for none), and look
        // again only once the cut-off has passed it.
        const first = await collection
          .find({}, { projection: { committedAt: 1 } })
          .sort({ committedAt: 1 })
          .limit(1)
          .next();
        this.#oldest.set(entityType, first?.committedAt ?? new Date().toISOString());
        return [];
      }
      // Per entity, the lowest version a load needs: the latest, or the snapshot below it.
      const kept = new Map<string, number>();
      for (const entityId of new Set(docs.map((d) => d.entityId))) {
        const last = await this.#latest(entityType, entityId);
        const from = last === undefined ? 0 : keptFrom(last);
        // The head must be right before older commits go: `load` starts from it.
        if (from > 0) await this.#advanceHead(entityType, entityId, from);
        kept.set(entityId, from);
      }
      return docs
        .filter((doc) => doc.version < (kept.get(doc.entityId) ?? 0))
        .map((doc) => toRecord(entityType, doc));
    } catch (error) {
      throw unavailable('reading the history of', entityType, error);
    }
  }

  async deleteCommits(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version'>[],
  ): Promise<void> {
    if (commits.length === 0) return;
    try {
      const collection = this.#collection(entityType);
      await inParallel(commits, 20, (c) =>
        collection.deleteOne({ _id: documentId(c.entityId, c.version) }),
      );
    } catch (error) {
      throw unavailable('compacting', entityType, error);
    }
  }

  async saveRelayBatch(batch: RelayBatch): Promise<void> {
    try {
      await this.#db.collection<RelayBatchDocument>(RELAY_BATCHES).replaceOne(
        { _id: batchId(batch.relayId, batch.instance, batch.sequence) },
        {
          relayId: batch.relayId,
          instance: batch.instance,
          sequence: batch.sequence,
          commits: batch.commits,
        },
        { upsert: true },
      );
    } catch (error) {
      throw unavailable('recording a relay batch of', batch.relayId, error);
    }
  }

  async loadRelayBatch(
    relayId: string,
    instance: string,
    sequence: number,
  ): Promise<RelayBatch | undefined> {
    try {
      const doc = await this.#db
        .collection<RelayBatchDocument>(RELAY_BATCHES)
        .findOne({ _id: batchId(relayId, instance, sequence) });
      // The record holds one of the relay process's two latest batches: any other is marked.
      if (doc === null || doc.sequence !== sequence) return undefined;
      return {
        relayId: doc.relayId,
        instance: doc.instance,
        sequence: doc.sequence,
        commits: doc.commits,
      };
    } catch (error) {
      throw unavailable('reading a relay batch of', relayId, error);
    }
  }

  async deleteRelayBatches(
    relayId: string,
    only?: { readonly instance: string; readonly sequence: number },
  ): Promise<void> {
    try {
      const batches = this.#db.collection<RelayBatchDocument>(RELAY_BATCHES);
      if (only === undefined) {
        await batches.deleteMany({ relayId });
        return;
      }
      // The record is replaced two batches later: delete it only if it is still this one (a
      // read by _id, then a delete by _id, both indexed; no conditional write).
      const id = batchId(relayId, only.instance, only.sequence);
      const doc = await batches.findOne({ _id: id });
      if (doc?.sequence === only.sequence) await batches.deleteOne({ _id: id });
    } catch (error) {
      throw unavailable('forgetting relay batches of', relayId, error);
    }
  }
}
