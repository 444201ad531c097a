import {
  pageCursor,
  parsePageCursor,
  type DeadLetterRecord,
  type DeadLetterStore,
} from '@sagaflow/core';
import { isDuplicateKey } from './duplicate-keys.js';
import { unavailable } from './paging.js';
import type { Db, Filter } from 'mongodb';

type LetterDocument = Omit<DeadLetterRecord, 'id'> & { _id: string };

const toRecord = ({ _id, ...rest }: LetterDocument): DeadLetterRecord => ({ id: _id, ...rest });

/** {@link DeadLetterStore} on MongoDB or FerretDB: one document per dead letter. */
export class MongoDeadLetterStore implements DeadLetterStore {
  readonly #db: Db;
  #prepared: Promise<void> | undefined;

  constructor(db: Db) {
    this.#db = db;
  }

  get #letters() {
    return this.#db.collection<LetterDocument>('sagaflow_dead_letters');
  }

  prepare(): Promise<void> {
    this.#prepared ??= this.#letters
      .createIndex({ sourceTopic: 1, failedAt: -1 }, { name: 'by-topic' })
      .then(() => undefined)
      .catch((error: unknown) => {
        this.#prepared = undefined;
        throw unavailable('preparing the dead letters', error);
      });
    return this.#prepared;
  }

  async record(letter: DeadLetterRecord): Promise<boolean> {
    const { id, ...rest } = letter;
    try {
      await this.#letters.insertOne({ _id: id, ...rest });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw unavailable('recording a dead letter', error);
    }
  }

  async list(query: { sourceTopic?: string; limit: number; after?: string }) {
    const and: Filter<LetterDocument>[] = [];
    if (query.sourceTopic !== undefined) and.push({ sourceTopic: query.sourceTopic });
    if (query.after !== undefined) {
      const [failedAt, id] = parsePageCursor(query.after);
      and.push({ $or: [{ failedAt: { $lt: failedAt } }, { failedAt, _id: { $lt: id } }] });
    }
    try {
      const docs = await this.#letters
        .find(and.length > 0 ? { $and: and } : {})
        .sort({ failedAt: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray();
      const letters = docs.slice(0, query.limit).map(toRecord);
      const last = letters.at(-1);
      return docs.length > query.limit && last !== undefined
        ? { letters, next: pageCursor(last.failedAt, last.id) }
        : { letters };
    } catch (error) {
      throw unavailable('listing dead letters', error);
    }
  }

  async get(id: string): Promise<DeadLetterRecord | undefined> {
    const doc = await this.#letters.findOne({ _id: id });
    return doc === null ? undefined : toRecord(doc);
  }

  async recordReplay(id: string, replay: { by: string; at: string }): Promise<void> {
    try {
      await this.#letters.updateOne({ _id: id }, { $push: { replays: replay } });
    } catch (error) {
      throw unavailable('recording a replay', error);
    }
  }
}
