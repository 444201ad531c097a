import {
  viewCursor,
  viewFieldsOf,
  type CheckedViewQuery,
  type ViewPage,
  type ViewRecord,
  type ViewStore,
  type ViewTable,
  type ViewValue,
} from '@sagaflow/core';
import type { Collection, Db, Filter } from 'mongodb';
import { isDuplicateKey } from './duplicate-keys.js';
import { unavailable } from './paging.js';

/** What a view document holds besides its query fields, as stored. */
interface StoredRevision {
  /** The document as JSON: any field name goes, and it reads back exactly as written. */
  doc: string;
  rev: number;
  /**
   * The offset applied last per `<topic>/<partition>` (as a list: topic names hold dots, which
   * field names must not).
   */
  pos: { p: string; o: string }[];
  recent: string[];
  at: string;
}

/** A document as readers see it: one per key, its latest revision, with its query fields. */
interface HeadDocument extends StoredRevision {
  _id: string;
  f: Record<string, ViewValue | null>;
}

/** A revision as written, claimed by one insert: `_id` is `<key>#<revision>`. */
interface RevisionDocument extends StoredRevision {
  _id: string;
  key: string;
  /** When this store wrote it (its own clock, not the record's time): what the sweep reads. */
  claimedAt: string;
}

const META = 'sagaflow_views';

interface MetaDocument {
  /** The view's name. */
  _id: string;
  active: number;
}

/**
 * How long revisions are kept. A write checks that the revision before its own is there (or is the
 * document's): a revision is deleted only long after the ones that follow it were written, so a
 * writer that read an old revision finds its successor taken, whenever it writes.
 */
const KEPT_MS = 10 * 60_000;
/** Pause between sweeps of a table's old revisions. */
const SWEEP_EVERY_MS = 60_000;

const revisionId = (key: string, revision: number) => `${key}#${revision}`;

const stored = (record: ViewRecord): StoredRevision => ({
  doc: JSON.stringify(record.doc),
  rev: record.revision,
  pos: Object.entries(record.positions).map(([p, o]) => ({ p, o })),
  recent: [...record.recent],
  at: record.updatedAt,
});

const toRecord = (key: string, document: StoredRevision): ViewRecord => ({
  key,
  doc: JSON.parse(document.doc) as unknown,
  revision: document.rev,
  positions: Object.fromEntries(document.pos.map(({ p, o }) => [p, o])),
  recent: document.recent,
  updatedAt: document.at,
});

const OPERATORS = { eq: '$eq', gt: '$gt', gte: '$gte', lt: '$lt', lte: '$lte' } as const;

/**
 * {@link ViewStore} on MongoDB or FerretDB. Each view version has two collections: its
 * documents (`sagaflow_view_<name>_v<version>`, one per key, indexed on each query field) and
 * its revisions (`…_revisions`, `<key>#<revision>`). A write inserts its revision (an insert that
 * finds the revision taken fails: the write lost to another writer) and then replaces the
 * document, unless a later revision is there; a read finds revisions written after the document
 * (a writer that stopped between the two writes) and brings the document up to date. Only
 * single-document inserts and replaces: no transaction, and a conditional update that the
 * database might not make atomically (FerretDB) never decides who wins. Revisions older than ten
 * minutes are deleted.
 */
export class MongoViewStore implements ViewStore {
  readonly #db: Db;
  readonly #prepared = new Map<string, Promise<void>>();
  /** When each table's old revisions were last swept. */
  readonly #sweptAt = new Map<string, number>();

  constructor(db: Db) {
    this.#db = db;
  }

  #heads(table: ViewTable): Collection<HeadDocument> {
    return this.#db.collection<HeadDocument>(`sagaflow_view_${table.view}_v${table.version}`);
  }

  #revisions(table: ViewTable): Collection<RevisionDocument> {
    return this.#db.collection<RevisionDocument>(
      `sagaflow_view_${table.view}_v${table.version}_revisions`,
    );
  }

  get #meta() {
    return this.#db.collection<MetaDocument>(META);
  }

  prepare(table: ViewTable): Promise<void> {
    const id = `${table.view}@${table.version}`;
    let prepared = this.#prepared.get(id);
    if (prepared === undefined) {
      prepared = Promise.all([
        ...Object.keys(table.fields).map((field) =>
          this.#heads(table).createIndex({ [`f.${field}`]: 1, _id: 1 }, { name: `by-${field}` }),
        ),
        this.#revisions(table).createIndex({ claimedAt: 1 }, { name: 'by-claim-time' }),
      ]).then(
        () => undefined,
        (error: unknown) => {
          this.#prepared.delete(id);
          throw unavailable(`preparing the view ${id}`, error);
        },
      );
      this.#prepared.set(id, prepared);
    }
    return prepared;
  }

  async get(table: ViewTable, key: string): Promise<ViewRecord | undefined> {
    try {
      const head = await this.#heads(table).findOne({ _id: key });
      let latest: StoredRevision | undefined = head ?? undefined;
      for (let next = (head?.rev ?? 0) + 1; ; next += 1) {
        const later = await this.#revisions(table).findOne({ _id: revisionId(key, next) });
        if (later === null) break;
        latest = later;
      }
      if (latest === undefined) return undefined;
      const record = toRecord(key, latest);
      if (latest !== head) await this.#replaceHead(table, record);
      return record;
    } catch (error) {
      throw unavailable(`reading view ${table.view} document '${key}'`, error);
    }
  }

  async write(table: ViewTable, record: ViewRecord): Promise<boolean> {
    try {
      if (record.revision > 1) {
        // A revision follows the one before: a writer never skips one.
        const before = await this.#revisions(table).findOne(
          { _id: revisionId(record.key, record.revision - 1) },
          { projection: { _id: 1 } },
        );
        if (before === null) {
          const head = await this.#heads(table).findOne(
            { _id: record.key },
            { projection: { rev: 1 } },
          );
          if (head?.rev !== record.revision - 1) return false;
        }
      }
      try {
        await this.#revisions(table).insertOne({
          _id: revisionId(record.key, record.revision),
          key: record.key,
          ...stored(record),
          claimedAt: new Date().toISOString(),
        });
      } catch (error) {
        if (isDuplicateKey(error)) return false;
        throw error;
      }
      await this.#replaceHead(table, record);
      this.#sweep(table);
      return true;
    } catch (error) {
      throw unavailable(`writing view ${table.view} document '${record.key}'`, error);
    }
  }

  /** Makes the document the revision given, unless a later one is there already. */
  async #replaceHead(table: ViewTable, record: ViewRecord): Promise<void> {
    const head: HeadDocument = {
      _id: record.key,
      f: viewFieldsOf(table, record.doc as Record<string, unknown>),
      ...stored(record),
    };
    try {
      await this.#heads(table).replaceOne(
        { _id: record.key, rev: { $lt: record.revision } },
        head,
        { upsert: true },
      );
    } catch (error) {
      // The document exists at this revision or a later one: nothing to do.
      if (!isDuplicateKey(error)) throw error;
    }
  }

  /** Deletes the table's revisions older than {@link KEPT_MS}, at most once a minute. */
  #sweep(table: ViewTable): void {
    const id = `${table.view}@${table.version}`;
    const now = Date.now();
    if (now - (this.#sweptAt.get(id) ?? 0) < SWEEP_EVERY_MS) return;
    this.#sweptAt.set(id, now);
    const before = new Date(now - KEPT_MS).toISOString();
    // Best effort: the next sweep deletes what this one could not.
    this.#revisions(table)
      .deleteMany({ claimedAt: { $lt: before } })
      .catch(() => {});
  }

  async query(table: ViewTable, query: CheckedViewQuery): Promise<ViewPage> {
    const { conditions, orderBy, direction, limit, after } = query;
    const and: Filter<HeadDocument>[] = conditions.map(({ field, op, value }) => ({
      [`f.${field}`]: { [OPERATORS[op]]: value },
    }));
    const sortField = orderBy === undefined ? undefined : `f.${orderBy}`;
    if (sortField !== undefined) and.push({ [sortField]: { $ne: null } });
    const beyond = direction === 'asc' ? '$gt' : '$lt';
    if (after !== undefined) {
      and.push(
        sortField === undefined || after.value === undefined
          ? { _id: { [beyond]: after.key } }
          : {
              $or: [
                { [sortField]: { [beyond]: after.value } },
                { [sortField]: after.value, _id: { [beyond]: after.key } },
              ],
            },
      );
    }
    const order = direction === 'asc' ? 1 : -1;
    try {
      const found = await this.#heads(table)
        .find(and.length === 0 ? {} : { $and: and })
        .sort(sortField === undefined ? { _id: order } : { [sortField]: order, _id: order })
        .limit(limit + 1)
        .toArray();
      const page = found.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((document) => ({
          key: document._id,
          doc: JSON.parse(document.doc) as unknown,
        })),
        next:
          found.length > limit && last !== undefined
            ? viewCursor(
                last._id,
                orderBy === undefined ? undefined : (last.f[orderBy] as ViewValue),
              )
            : null,
      };
    } catch (error) {
      throw unavailable(`querying view ${table.view}`, error);
    }
  }

  async activeVersion(view: string): Promise<number | undefined> {
    try {
      return (await this.#meta.findOne({ _id: view }))?.active;
    } catch (error) {
      throw unavailable(`reading the active version of view ${view}`, error);
    }
  }

  async activate(view: string, version: number): Promise<void> {
    try {
      await this.#meta.updateOne({ _id: view }, { $max: { active: version } }, { upsert: true });
    } catch (error) {
      if (isDuplicateKey(error)) return this.activate(view, version);
      throw unavailable(`activating version ${version} of view ${view}`, error);
    }
  }
}
