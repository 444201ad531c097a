import { LRUCache } from 'lru-cache';
import {
  pageCursor,
  parsePageCursor,
  type CompensationRequest,
  type RecordedEntries,
  type RecordedEntry,
  type SagaCount,
  type SagaEntry,
  type SagaStatus,
  type SagaQuery,
  type SagaView,
  type SagaViewStore,
  type TimelineEntry,
} from '@sagaflow/core';
import { unavailable } from './paging.js';
import { duplicateIndexes, isDuplicateKey } from './duplicate-keys.js';
import { MongoServerError, type AnyBulkWriteOperation, type Db, type Filter } from 'mongodb';

interface EntryDocument {
  /** `<sagaId>#<n>`: the n-th slot of the saga's timeline (1, 2, …), claimed by one insert. */
  _id: string;
  sagaId: string;
  entry: TimelineEntry;
}

const slotId = (sagaId: string, slot: number) => `${sagaId}#${slot}`;

interface RequestDocument extends CompensationRequest {
  /** The saga id: one request per saga. */
  _id: string;
}

type ViewDocument = Omit<SagaView, 'sagaId'> & { _id: string };

/** The deadline of a running saga, kept apart so that finding overdue sagas scans only these. */
interface DeadlineDocument {
  /** The saga id. */
  _id: string;
  deadlineAt: string;
}

const DEADLINES = 'sagaflow_saga_deadlines';

/** Drops undefined fields, as the view's optional fields are absent rather than null. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Events by saga, each event once, in the order given. */
function bySaga(items: readonly SagaEntry[]): Map<string, TimelineEntry[]> {
  const sagas = new Map<string, TimelineEntry[]>();
  for (const { sagaId, entry } of items) {
    const events = sagas.get(sagaId) ?? [];
    if (!events.some((e) => e.eventId === entry.eventId)) events.push(entry);
    sagas.set(sagaId, events);
  }
  return sagas;
}

const toView = ({ _id, ...rest }: ViewDocument): SagaView => ({
  ...rest,
  sagaId: _id,
  type: rest.type ?? undefined,
});

/**
 * {@link SagaViewStore} on MongoDB or FerretDB: a saga's timeline is a run of slots
 * (`<sagaId>#1`, `#2`, …) read by `_id`, each claimed by one insert (an event already in a slot
 * is not recorded again; of two events racing for a slot one wins and the other takes the next),
 * views are written whole, and a compensation request is inserted once.
 * Every write is a single-document insert or replace.
 */
export class MongoSagaViewStore implements SagaViewStore {
  readonly #db: Db;
  #prepared: Promise<void> | undefined;
  /**
   * The slots of recent sagas this process has read: a slot never changes once claimed, so the
   * cached ones are a prefix of the timeline and only the slots after them are read.
   */
  readonly #known = new LRUCache<string, TimelineEntry[]>({ max: 5000 });
  /**
   * The deadline hint this process last wrote for a saga (`null`: it deleted it), so that a view
   * whose deadline did not move does not write it again.
   */
  readonly #deadlineWritten = new LRUCache<string, string | { none: true }>({ max: 10_000 });
  /** Compensation requests read: one is never changed or removed once made. */
  readonly #requested = new LRUCache<string, CompensationRequest>({ max: 5000 });

  constructor(db: Db) {
    this.#db = db;
  }

  get #entries() {
    return this.#db.collection<EntryDocument>('sagaflow_saga_entries');
  }

  get #views() {
    return this.#db.collection<ViewDocument>('sagaflow_saga_views');
  }

  get #deadlines() {
    return this.#db.collection<DeadlineDocument>(DEADLINES);
  }

  get #requests() {
    return this.#db.collection<RequestDocument>('sagaflow_saga_requests');
  }

  prepare(): Promise<void> {
    this.#prepared ??= Promise.all([
      this.#views.createIndex({ startedAt: -1, _id: -1 }, { name: 'newest' }),
      this.#views.createIndex({ status: 1, deadlineAt: 1 }, { name: 'overdue' }),
      this.#views.createIndex({ businessKey: 1 }, { name: 'business-key' }),
      this.#backfillDeadlines(),
    ]).then(
      () => undefined,
      (error: unknown) => {
        this.#prepared = undefined;
        throw unavailable('preparing the saga views', error);
      },
    );
    return this.#prepared;
  }

  /** Views written before deadlines were kept apart get theirs, once. */
  async #backfillDeadlines(): Promise<void> {
    const exists = await this.#db
      .listCollections({ name: DEADLINES }, { nameOnly: true })
      .hasNext();
    if (exists) return;
    await this.#db.createCollection(DEADLINES).catch((error: unknown) => {
      // Another process created it first.
      if (!(error instanceof MongoServerError && error.code === 48)) throw error;
    });
    const running = this.#views.find(
      { status: 'running', deadlineAt: { $exists: true } },
      { projection: { _id: 1, deadlineAt: 1 } },
    );
    for await (const view of running) {
      if (view.deadlineAt === undefined) continue;
      await this.#deadlines.replaceOne(
        { _id: view._id },
        { deadlineAt: view.deadlineAt },
        { upsert: true },
      );
    }
  }

  async recordEntry(sagaId: string, entry: TimelineEntry): Promise<RecordedEntry> {
    try {
      // Straight into the slot after those this process knows (the first, for a saga it does not
      // know): if the slot is free, no other process has recorded anything after the known ones,
      // so the event is not recorded yet. A taken slot means reading on, then trying again.
      let slots = [...(this.#known.get(sagaId) ?? [])];
      for (;;) {
        if (slots.some((e) => e.eventId === entry.eventId)) {
          return { recorded: false, entries: slots };
        }
        try {
          await this.#entries.insertOne({ _id: slotId(sagaId, slots.length + 1), sagaId, entry });
          // A cached timeline is never changed in place (`#slots` copies it): hand out the same one.
          const entries = [...slots, entry];
          this.#known.set(sagaId, entries);
          return { recorded: true, entries };
        } catch (error) {
          // Another event took the slot: read the timeline on (it may be this very event).
          if (!isDuplicateKey(error)) throw error;
        }
        slots = await this.#slots(sagaId);
      }
    } catch (error) {
      throw unavailable('recording a saga event', error);
    }
  }

  async recordEntries(items: readonly SagaEntry[]): Promise<ReadonlyMap<string, RecordedEntries>> {
    // Each saga's new events go straight into the slots after those this process knows, all
    // sagas in one insertMany; a saga one of whose slots was taken meanwhile (another process
    // recorded an event of it) records the events that did not get their slot one by one.
    const done = new Map<string, RecordedEntries>();
    const planned: { sagaId: string; known: readonly TimelineEntry[]; fresh: TimelineEntry[] }[] =
      [];
    const docs: EntryDocument[] = [];
    for (const [sagaId, events] of bySaga(items)) {
      const known = this.#known.get(sagaId) ?? [];
      const fresh = events.filter((e) => !known.some((k) => k.eventId === e.eventId));
      if (fresh.length === 0) {
        done.set(sagaId, { recorded: [], entries: known });
        continue;
      }
      planned.push({ sagaId, known, fresh });
      fresh.forEach((entry, i) =>
        docs.push({ _id: slotId(sagaId, known.length + 1 + i), sagaId, entry }),
      );
    }
    const refused = new Set<string>();
    try {
      if (docs.length > 0) await this.#entries.insertMany(docs, { ordered: false });
    } catch (error) {
      const indexes = duplicateIndexes(error, docs.length);
      if (indexes === undefined) throw unavailable('recording saga events', error);
      for (const index of indexes) {
        const doc = docs[index];
        if (doc === undefined) throw unavailable('recording saga events', error);
        refused.add(doc._id);
      }
    }
    for (const { sagaId, known, fresh } of planned) {
      const late = fresh.filter((_, i) => refused.has(slotId(sagaId, known.length + 1 + i)));
      const recorded = fresh.filter((e) => !late.includes(e)).map((e) => e.eventId);
      if (late.length === 0) {
        const entries = [...known, ...fresh];
        this.#known.set(sagaId, entries);
        done.set(sagaId, { recorded, entries });
        continue;
      }
      // The cached prefix no longer tells where the free slots are: read the timeline afresh.
      this.#known.delete(sagaId);
      let entries: readonly TimelineEntry[] = [];
      for (const entry of late) {
        const result = await this.recordEntry(sagaId, entry);
        if (result.recorded) recorded.push(entry.eventId);
        entries = result.entries;
      }
      done.set(sagaId, { recorded, entries });
    }
    return done;
  }

  /** A saga's entries, slot by slot, read by `_id` (FerretDB scans any other query). */
  async #slots(sagaId: string): Promise<TimelineEntry[]> {
    const entries = [...(this.#known.get(sagaId) ?? [])];
    for (;;) {
      const doc = await this.#entries.findOne({ _id: slotId(sagaId, entries.length + 1) });
      if (doc === null) break;
      entries.push(doc.entry);
    }
    this.#known.set(sagaId, entries);
    return [...entries];
  }

  async entries(sagaId: string): Promise<TimelineEntry[]> {
    try {
      return await this.#slots(sagaId);
    } catch (error) {
      throw unavailable('reading a saga timeline', error);
    }
  }

  async requestCompensation(sagaId: string, request: CompensationRequest): Promise<boolean> {
    try {
      await this.#requests.insertOne({ _id: sagaId, ...request });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw unavailable('recording a compensation request', error);
    }
  }

  async compensationRequest(sagaId: string): Promise<CompensationRequest | undefined> {
    const known = this.#requested.get(sagaId);
    if (known !== undefined) return { ...known };
    try {
      const doc = await this.#requests.findOne({ _id: sagaId });
      if (doc === null) return undefined;
      const request = { at: doc.at, by: doc.by, reason: doc.reason };
      this.#requested.set(sagaId, request);
      return { ...request };
    } catch (error) {
      throw unavailable('reading a compensation request', error);
    }
  }

  async compensationRequests(
    sagaIds: readonly string[],
  ): Promise<ReadonlyMap<string, CompensationRequest>> {
    const found = new Map<string, CompensationRequest>();
    const unknown: string[] = [];
    for (const sagaId of new Set(sagaIds)) {
      const known = this.#requested.get(sagaId);
      if (known === undefined) unknown.push(sagaId);
      else found.set(sagaId, { ...known });
    }
    if (unknown.length === 0) return found;
    try {
      // One query for all; requests are few (one per saga an operator or a deadline compensated).
      const docs =
        unknown.length === 1
          ? await this.#requests.find({ _id: unknown[0] ?? '' }).toArray()
          : await this.#requests.find({ _id: { $in: unknown } }).toArray();
      for (const doc of docs) {
        const request = { at: doc.at, by: doc.by, reason: doc.reason };
        this.#requested.set(doc._id, request);
        found.set(doc._id, { ...request });
      }
      return found;
    } catch (error) {
      throw unavailable('reading compensation requests', error);
    }
  }

  writeView(view: SagaView): Promise<void> {
    return this.writeViews([view]);
  }

  async writeViews(views: readonly SagaView[]): Promise<void> {
    if (views.length === 0) return;
    // Each kind of write of all the views in one command, by _id alone (on FerretDB any other
    // condition makes a write a scan): deadline hints first, so a view never runs with a deadline
    // that overdue() cannot find; a hint is written only when it moved, and deleted once.
    const deadlinesSet: AnyBulkWriteOperation<DeadlineDocument>[] = [];
    const replaced: AnyBulkWriteOperation<ViewDocument>[] = [];
    const deadlinesGone: AnyBulkWriteOperation<DeadlineDocument>[] = [];
    const remember: (() => void)[] = [];
    const forget: (() => void)[] = [];
    for (const view of views) {
      const { sagaId, ...rest } = plain(view);
      const due = rest.status === 'running' ? rest.deadlineAt : undefined;
      const written = this.#deadlineWritten.get(sagaId);
      if (due !== undefined && written !== due) {
        deadlinesSet.push({
          replaceOne: { filter: { _id: sagaId }, replacement: { deadlineAt: due }, upsert: true },
        });
        remember.push(() => this.#deadlineWritten.set(sagaId, due));
      }
      replaced.push({ replaceOne: { filter: { _id: sagaId }, replacement: rest, upsert: true } });
      if (due === undefined && (written === undefined || typeof written === 'string')) {
        deadlinesGone.push({ deleteOne: { filter: { _id: sagaId } } });
        forget.push(() => this.#deadlineWritten.set(sagaId, { none: true }));
      }
    }
    try {
      if (deadlinesSet.length > 0) await this.#deadlines.bulkWrite(deadlinesSet);
      remember.forEach((f) => f());
      await this.#views.bulkWrite(replaced);
      if (deadlinesGone.length > 0) await this.#deadlines.bulkWrite(deadlinesGone);
      forget.forEach((f) => f());
    } catch (error) {
      throw unavailable('writing saga views', error);
    }
  }

  async view(sagaId: string): Promise<SagaView | undefined> {
    try {
      const doc = await this.#views.findOne({ _id: sagaId });
      return doc === null ? undefined : toView(doc);
    } catch (error) {
      throw unavailable('reading a saga view', error);
    }
  }

  async overdue(now: string, limit: number): Promise<SagaView[]> {
    try {
      // Deadlines are hints (written before their view): each is checked against its view.
      const hints = await this.#deadlines
        .find({ deadlineAt: { $lte: now } })
        .limit(limit * 2)
        .toArray();
      const views: SagaView[] = [];
      for (const hint of hints) {
        const doc = await this.#views.findOne({ _id: hint._id });
        const view = doc === null ? undefined : toView(doc);
        if (view?.status === 'running' && view.deadlineAt !== undefined && view.deadlineAt <= now) {
          if (views.length < limit) views.push(view);
        } else if (view !== undefined && view.status !== 'running') {
          // Ended meanwhile; only if no writer set a new deadline since the hint was read.
          await this.#deadlines.deleteOne({ _id: hint._id, deadlineAt: hint.deadlineAt });
        } else if (view?.deadlineAt !== undefined) {
          await this.#deadlines.updateOne(
            { _id: hint._id, deadlineAt: hint.deadlineAt },
            { $set: { deadlineAt: view.deadlineAt } },
          );
        }
      }
      return views;
    } catch (error) {
      throw unavailable('looking for overdue sagas', error);
    }
  }

  async durations(query: { readonly type?: string; readonly limit: number }): Promise<number[]> {
    try {
      const docs = await this.#views
        .find(
          {
            endedAt: { $exists: true },
            ...(query.type === undefined ? {} : { type: query.type }),
          },
          { projection: { _id: 0, startedAt: 1, endedAt: 1 } },
        )
        .sort({ endedAt: -1 })
        .limit(query.limit)
        .toArray();
      return docs.map((d) => Date.parse(d.endedAt!) - Date.parse(d.startedAt));
    } catch (error) {
      throw unavailable('reading saga durations', error);
    }
  }

  async counts(): Promise<SagaCount[]> {
    try {
      const groups = await this.#views
        .aggregate<{ _id: { type?: string | null; status: SagaStatus }; count: number }>([
          { $group: { _id: { type: '$type', status: '$status' }, count: { $sum: 1 } } },
        ])
        .toArray();
      return groups.map(({ _id, count }) => ({
        type: _id.type ?? 'unknown',
        status: _id.status,
        count,
      }));
    } catch (error) {
      throw unavailable('counting saga views', error);
    }
  }

  async query(query: SagaQuery): Promise<{ views: SagaView[]; next?: string }> {
    const and: Filter<ViewDocument>[] = [];
    if (query.status !== undefined) and.push({ status: query.status });
    if (query.type !== undefined) and.push({ type: query.type });
    if (query.since !== undefined) and.push({ startedAt: { $gte: query.since } });
    if (query.until !== undefined) and.push({ startedAt: { $lt: query.until } });
    if (query.q !== undefined) and.push({ $or: [{ _id: query.q }, { businessKey: query.q }] });
    if (query.after !== undefined) {
      const [startedAt, sagaId] = parsePageCursor(query.after);
      and.push({ $or: [{ startedAt: { $lt: startedAt } }, { startedAt, _id: { $lt: sagaId } }] });
    }
    const filter: Filter<ViewDocument> = and.length > 0 ? { $and: and } : {};
    try {
      const docs = await this.#views
        .find(filter)
        .sort({ startedAt: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray();
      const views = docs.slice(0, query.limit).map(toView);
      const last = views.at(-1);
      return docs.length > query.limit && last !== undefined
        ? { views, next: pageCursor(last.startedAt, last.sagaId) }
        : { views };
    } catch (error) {
      throw unavailable('querying saga views', error);
    }
  }
}
