import type {
  AppendOutcome,
  Commit,
  EntitySnapshot,
  EntityStore,
  Pingable,
  RelayBatch,
} from '@sagaflow/core';
import { SagaflowError } from '@sagaflow/core';
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
  published: boolean;
}

const DUPLICATE_KEY = 11000;

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
 */
export class MongoEntityStore implements EntityStore, Pingable {
  readonly #db: Db;
  readonly #prepared = new Map<string, Promise<void>>();

  constructor(db: Db) {
    this.#db = db;
  }

  #collection(entityType: string): Collection<CommitDocument> {
    return this.#db.collection<CommitDocument>(`${entityType.replaceAll('.', '_')}_commits`);
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
        collection.createIndex({ entityId: 1, version: -1 }, { name: 'latest' }),
        collection.createIndex({ published: 1, entityId: 1, version: 1 }, { name: 'outbox' }),
        collection.createIndex({ published: 1, committedAt: 1 }, { name: 'history' }),
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
      const doc = await this.#collection(entityType).findOne(
        { entityId },
        { sort: { version: -1 }, projection: { state: 1, version: 1 } },
      );
      return doc === null ? undefined : { state: doc.state as S, version: doc.version };
    } catch (error) {
      throw unavailable('loading', entityType, error);
    }
  }

  async append<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
    const collection = this.#collection(commit.entityType);
    try {
      await collection.insertOne({
        _id: documentId(commit.entityId, commit.version),
        entityId: commit.entityId,
        version: commit.version,
        state: commit.state,
        events: commit.events,
        causationKey: commit.causationKey,
        ...(commit.source === undefined ? {} : { source: commit.source }),
        committedAt: commit.committedAt,
        published: false,
      });
      return { status: 'appended' };
    } catch (error) {
      if (!(error instanceof MongoServerError) || error.code !== DUPLICATE_KEY) {
        throw unavailable('appending to', commit.entityType, error);
      }
    }
    // Which key was taken? The causation one means the message was applied already.
    try {
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
    try {
      const docs = await this.#collection(entityType)
        .find({ published: false })
        .sort({ entityId: 1, version: 1 })
        .limit(limit)
        .toArray();
      return docs.map((doc) => toCommit(entityType, doc));
    } catch (error) {
      throw unavailable('reading the outbox of', entityType, error);
    }
  }

  async markPublished(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version'>[],
  ): Promise<void> {
    if (commits.length === 0) return;
    try {
      await this.#collection(entityType).updateMany(
        { _id: { $in: commits.map((c) => documentId(c.entityId, c.version)) } },
        { $set: { published: true } },
      );
    } catch (error) {
      throw unavailable('marking published in', entityType, error);
    }
  }

  async compactable(entityType: string, committedBefore: string, limit: number): Promise<Commit[]> {
    const collection = this.#collection(entityType);
    try {
      const docs = await collection
        .find({ published: true, committedAt: { $lt: committedBefore } })
        .sort({ committedAt: 1 })
        .limit(limit)
        .toArray();
      const latest = new Map<string, number>();
      for (const entityId of new Set(docs.map((d) => d.entityId))) {
        const last = await collection.findOne(
          { entityId },
          { sort: { version: -1 }, projection: { version: 1 } },
        );
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
      await this.#collection(entityType).deleteMany({
        _id: { $in: commits.map((c) => documentId(c.entityId, c.version)) },
      });
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
