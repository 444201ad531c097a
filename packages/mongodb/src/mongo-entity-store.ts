import { LRUCache } from 'lru-cache';
import type {
  OutboxBacklog,
  AppendOutcome,
  Commit,
  EntitySnapshot,
  EntityStore,
  Pingable,
  RelayBatch,
} from '@sagaflow/core';
import { invalidArgument, SagaflowError } from '@sagaflow/core';
import { MongoServerError, type Collection, type Db } from 'mongodb';

/** One commit, as stored: one document, written once by one insert. */
interface CommitDocument {
  /** `<entityId>@<version, 10 digits>`: the primary key makes one version win. */
  _id: string;
  entityId: string;
  version: number;
  state: unknown;
  events: Commit['events'];
  causationKey: string;
  source?: Commit['source'];
  committedAt: string;
}

const DUPLICATE_KEY = 11000;

/** The latest version an entity is known to have reached: a hint, never ahead of the truth. */
interface HeadDocument {
  /** The entity id. */
  _id: string;
  version: number;
}

/** A commit that may not be published yet, recorded before the commit is written. */
interface OutboxDocument {
  /** The commit's `_id`. */
  _id: string;
  entityId: string;
  version: number;
  /** ISO-8601 time at which it was recorded. */
  at: string;
}

/** How often a marker without its commit is looked at again. */
const ORPHAN_RECHECK_MS = 5000;
/**
 * Appends move the head hint every this many versions (compaction moves it before it deletes):
 * a load in another process probes at most this many versions past it; the writing process
 * starts from the versions it has seen.
 */
const HEAD_EVERY = 8;

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

/** A relay batch, as recorded before it is published. */
interface RelayBatchDocument extends RelayBatch {
  /** `<relayId>/<instance>/<sequence>`. */
  _id: string;
}

const RELAY_BATCHES = 'sagaflow_relay_batches';
const batchId = (relayId: string, instance: string, sequence: number) =>
  `${relayId}/${instance}/${sequence}`;

const documentId = (entityId: string, version: number) =>
  `${entityId}@${String(version).padStart(10, '0')}`;

function toCommit<S>(entityType: string, doc: CommitDocument): Commit<S> {
  return {
    entityType,
    entityId: doc.entityId,
    version: doc.version,
    state: doc.state as S,
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
  readonly #orphans = new Map<string, number>();
  /**
   * Commits this process wrote or read lately. A commit is never changed once written, so a
   * cached one is what the database holds (or held, before compaction deleted an older one:
   * loads only ask for the version their head names, which compaction keeps).
   */
  readonly #commits: LRUCache<string, CommitDocument>;
  /** The latest version of each entity this process has seen (wrote or read). */
  readonly #known: LRUCache<string, number>;

  /**
   * @param options.cachedCommits Commits kept in memory to spare reads of the latest ones.
   *   @default 2000
   */
  constructor(db: Db, options: { readonly cachedCommits?: number } = {}) {
    this.#db = db;
    const max = options.cachedCommits ?? 2000;
    if (!Number.isInteger(max) || max < 1) {
      throw invalidArgument('cachedCommits', `must be a positive integer (got ${max})`);
    }
    this.#commits = new LRUCache({ max });
    this.#known = new LRUCache({ max });
  }

  /** A commit by its id: from the cache, else from the database (and then cached). */
  async #commit(entityType: string, id: string): Promise<CommitDocument | undefined> {
    const key = `${entityType}/${id}`;
    const cached = this.#commits.get(key);
    // A copy: whoever gets it may change it, the cache stays as written.
    if (cached !== undefined) return structuredClone(cached);
    const doc = await this.#collection(entityType).findOne({ _id: id });
    if (doc === null) return undefined;
    this.#commits.set(key, doc);
    return doc;
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

  #know(entityType: string, entityId: string, version: number): void {
    const key = `${entityType}/${entityId}`;
    if ((this.#known.get(key) ?? 0) < version) this.#known.set(key, version);
  }

  /**
   * The latest commit of an entity, found by `_id` upwards from the head hint or the latest
   * version this process has seen, whichever is higher. The hint is read in any case: a version
   * this process saw may have been compacted since, and compaction moves the hint first.
   */
  async #latest(entityType: string, entityId: string): Promise<CommitDocument | undefined> {
    const collection = this.#collection(entityType);
    const head = await this.#heads(entityType).findOne({ _id: entityId });
    const hinted = Math.max(head?.version ?? 0, this.#known.get(`${entityType}/${entityId}`) ?? 0);
    let version = hinted;
    let latest =
      version === 0 ? undefined : await this.#commit(entityType, documentId(entityId, version));
    // Without a hint the entity has no commit, or only its first ones (the hint moves every few
    // versions, and compaction moves it before deleting anything): probing upwards finds them.
    for (;;) {
      const next = await collection.findOne({ _id: documentId(entityId, version + 1) });
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
      this.#commits.set(`${entityType}/${next._id}`, next);
    }
    if (latest !== undefined) this.#know(entityType, entityId, latest.version);
    return latest;
  }

  /** Resolves when the database answers `ping`. */
  async ping(): Promise<void> {
    await this.#db.command({ ping: 1 });
  }

  prepare(entityType: string): Promise<void> {
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

  async load<S>(entityType: string, entityId: string): Promise<EntitySnapshot<S> | undefined> {
    try {
      const doc = await this.#latest(entityType, entityId);
      return doc === undefined ? undefined : { state: doc.state as S, version: doc.version };
    } catch (error) {
      throw unavailable('loading', entityType, error);
    }
  }

  async append<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
    const collection = this.#collection(commit.entityType);
    const id = documentId(commit.entityId, commit.version);
    try {
      // The marker first: a crash after the commit must not leave it out of the outbox.
      await this.#outbox(commit.entityType)
        .insertOne({
          _id: id,
          entityId: commit.entityId,
          version: commit.version,
          at: new Date().toISOString(),
        })
        .catch((error: unknown) => {
          if (!(error instanceof MongoServerError) || error.code !== DUPLICATE_KEY) throw error;
        });
      const doc: CommitDocument = {
        _id: id,
        entityId: commit.entityId,
        version: commit.version,
        state: commit.state,
        events: commit.events,
        causationKey: commit.causationKey,
        ...(commit.source === undefined ? {} : { source: commit.source }),
        committedAt: commit.committedAt,
      };
      await collection.insertOne(doc);
      this.#commits.set(`${commit.entityType}/${id}`, structuredClone(doc));
      this.#know(commit.entityType, commit.entityId, commit.version);
      if (commit.version % HEAD_EVERY === 0) {
        await this.#advanceHead(commit.entityType, commit.entityId, commit.version);
      }
      return { status: 'appended' };
    } catch (error) {
      if (!(error instanceof MongoServerError) || error.code !== DUPLICATE_KEY) {
        throw unavailable('appending to', commit.entityType, error);
      }
    }
    // Which key was taken? The causation one means the message was applied already. FerretDB
    // does not say which index refused the insert: a taken version is a conflict (a retry on the
    // fresh state finds a duplicate, if it is one); a free version means the causation key.
    try {
      if ((await collection.findOne({ _id: id }, { projection: { _id: 1 } })) !== null) {
        return { status: 'conflict' };
      }
      const existing = await collection.findOne({
        entityId: commit.entityId,
        causationKey: commit.causationKey,
      });
      return existing === null
        ? { status: 'conflict' }
        : { status: 'duplicate', existing: toCommit<S>(commit.entityType, existing) };
    } catch (error) {
      throw unavailable('appending to', commit.entityType, error);
    }
  }

  async unpublished(entityType: string, limit: number): Promise<Commit[]> {
    const collection = this.#collection(entityType);
    const outbox = this.#outbox(entityType);
    try {
      const markers = (await outbox.find({}).toArray()).sort((a, b) =>
        a._id < b._id ? -1 : a._id > b._id ? 1 : 0,
      );
      const commits: Commit[] = [];
      const now = Date.now();
      for (const marker of markers) {
        if (commits.length >= limit) break;
        const doc = await this.#commit(entityType, marker._id);
        if (doc !== undefined) {
          commits.push(toCommit(entityType, doc));
          continue;
        }
        // No commit at this version: one in flight, one that lost its race or was a duplicate
        // (the next commit of the entity will take the version and its marker), or one compacted
        // after it was published. Only the last may be forgotten.
        if ((this.#orphans.get(marker._id) ?? 0) > now - ORPHAN_RECHECK_MS) continue;
        this.#orphans.set(marker._id, now);
        const latest = await this.#latest(entityType, marker.entityId);
        if ((latest?.version ?? 0) < marker.version) continue;
        // The entity is past this version: the commit landed meanwhile, or was compacted.
        const landed = await collection.findOne({ _id: marker._id });
        if (landed !== null) {
          this.#orphans.delete(marker._id);
          commits.push(toCommit(entityType, landed));
        } else {
          await outbox.deleteOne({ _id: marker._id });
          this.#orphans.delete(marker._id);
        }
      }
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

  async markPublished(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version'>[],
  ): Promise<void> {
    const outbox = this.#outbox(entityType);
    try {
      // One deleteOne each: on FerretDB a deleteMany with $in costs several times more.
      await inParallel(commits, 10, (c) =>
        outbox.deleteOne({ _id: documentId(c.entityId, c.version) }),
      );
    } catch (error) {
      throw unavailable('marking published in', entityType, error);
    }
  }

  async compactable(entityType: string, committedBefore: string, limit: number): Promise<Commit[]> {
    const collection = this.#collection(entityType);
    try {
      // Published commits are those without an outbox marker.
      const pending = new Set(
        (
          await this.#outbox(entityType)
            .find({}, { projection: { _id: 1 } })
            .toArray()
        ).map((m) => m._id),
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
      const latest = new Map<string, number>();
      for (const entityId of new Set(docs.map((d) => d.entityId))) {
        const last = await this.#latest(entityType, entityId);
        // The head must be right before older commits go: `load` starts from it.
        if (last !== undefined) await this.#advanceHead(entityType, entityId, last.version);
        latest.set(entityId, last?.version ?? 0);
      }
      return docs
        .filter((doc) => doc.version < (latest.get(doc.entityId) ?? 0))
        .map((doc) => toCommit(entityType, doc));
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
      await this.#db.collection<RelayBatchDocument>(RELAY_BATCHES).insertOne({
        _id: batchId(batch.relayId, batch.instance, batch.sequence),
        relayId: batch.relayId,
        instance: batch.instance,
        sequence: batch.sequence,
        commits: batch.commits,
      });
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
      if (doc === null) return undefined;
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
      await this.#db
        .collection<RelayBatchDocument>(RELAY_BATCHES)
        .deleteMany(
          only === undefined
            ? { relayId }
            : { _id: batchId(relayId, only.instance, only.sequence) },
        );
    } catch (error) {
      throw unavailable('forgetting relay batches of', relayId, error);
    }
  }
}
