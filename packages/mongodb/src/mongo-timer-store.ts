import type { DurableTimer, TimerStore } from '@sagaflow/core';
import type { Db } from 'mongodb';
import { coalesced } from './coalesced.js';
import { isDuplicateKey } from './duplicate-keys.js';
import { unavailable } from './paging.js';

type TimerDocument = Omit<DurableTimer, 'id'> & { _id: string };

const toTimer = ({ _id, ...rest }: TimerDocument): DurableTimer => ({ id: _id, ...rest });

/**
 * {@link TimerStore} on MongoDB or FerretDB, in the collection `sagaflow_timers`: a timer is one
 * inserted document (a second insert of the same id is ignored), found by owner and due time,
 * postponed by an update of its due time alone, and deleted by id. Timers scheduled, and
 * deleted, while a write of them is in flight go together in the next write (one round trip).
 */
export class MongoTimerStore implements TimerStore {
  readonly #db: Db;
  #prepared: Promise<void> | undefined;
  readonly #insert = coalesced<TimerDocument>(async (docs) => {
    try {
      await this.#timers.insertMany([...docs], { ordered: false });
    } catch (error) {
      // A timer stored already: the first one stays.
      if (!isDuplicateKey(error, docs.length)) throw error;
    }
  });
  readonly #delete = coalesced<string>(async (ids) => {
    await this.#timers.deleteMany({ _id: { $in: [...new Set(ids)] } });
  });

  constructor(db: Db) {
    this.#db = db;
  }

  get #timers() {
    return this.#db.collection<TimerDocument>('sagaflow_timers');
  }

  prepare(): Promise<void> {
    this.#prepared ??= this.#timers.createIndex({ owner: 1, dueAt: 1 }, { name: 'due' }).then(
      () => undefined,
      (error: unknown) => {
        this.#prepared = undefined;
        throw unavailable('preparing the timers', error);
      },
    );
    return this.#prepared;
  }

  async schedule(timer: DurableTimer): Promise<void> {
    const { id, ...rest } = timer;
    try {
      await this.#insert({ _id: id, ...rest });
    } catch (error) {
      throw unavailable(`scheduling timer ${id}`, error);
    }
  }

  async due(owner: string, now: string, limit: number): Promise<DurableTimer[]> {
    try {
      const docs = await this.#timers
        .find({ owner, dueAt: { $lte: now } })
        .sort({ dueAt: 1, _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toTimer);
    } catch (error) {
      throw unavailable('reading due timers', error);
    }
  }

  async next(owner: string): Promise<DurableTimer | undefined> {
    try {
      const doc = await this.#timers.find({ owner }).sort({ dueAt: 1, _id: 1 }).limit(1).next();
      return doc === null ? undefined : toTimer(doc);
    } catch (error) {
      throw unavailable('reading the next timer', error);
    }
  }

  async postpone(id: string, dueAt: string): Promise<void> {
    try {
      await this.#timers.updateOne({ _id: id }, { $set: { dueAt } });
    } catch (error) {
      throw unavailable(`postponing timer ${id}`, error);
    }
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await Promise.all(ids.map((id) => this.#delete(id)));
    } catch (error) {
      throw unavailable('deleting timers', error);
    }
  }
}
