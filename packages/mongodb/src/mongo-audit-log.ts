import { SagaflowError, type AuditEntry, type AuditLog, type AuditQuery } from '@sagaflow/core';
import type { Db } from 'mongodb';

/** {@link AuditLog} on MongoDB or FerretDB: one inserted document per action, never changed. */
export class MongoAuditLog implements AuditLog {
  readonly #db: Db;
  #prepared: Promise<void> | undefined;

  constructor(db: Db) {
    this.#db = db;
  }

  get #collection() {
    return this.#db.collection<AuditEntry>('sagaflow_audit_log');
  }

  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.#collection.insertOne({ ...entry });
    } catch (error) {
      throw new SagaflowError(
        'STORE_UNAVAILABLE',
        `writing the audit log failed: ${(error as Error).message}`,
        {
          retriable: true,
          cause: error,
        },
      );
    }
  }

  async recent(limit: number, query: AuditQuery = {}): Promise<AuditEntry[]> {
    try {
      await this.#prepare();
      const docs = await this.#collection
        .find(query.target === undefined ? {} : { target: query.target }, {
          projection: { _id: 0 },
        })
        .sort({ at: -1, _id: -1 })
        .limit(limit)
        .toArray();
      return docs.map((doc) => ({ ...doc }));
    } catch (error) {
      throw new SagaflowError(
        'STORE_UNAVAILABLE',
        `reading the audit log failed: ${(error as Error).message}`,
        { retriable: true, cause: error },
      );
    }
  }

  /** The indexes of the newest entries, of everything and of one target. */
  #prepare(): Promise<void> {
    this.#prepared ??= Promise.all([
      this.#collection.createIndex({ at: -1, _id: -1 }, { name: 'newest' }),
      this.#collection.createIndex({ target: 1, at: -1, _id: -1 }, { name: 'target-newest' }),
    ]).then(
      () => undefined,
      (error: unknown) => {
        this.#prepared = undefined;
        throw error;
      },
    );
    return this.#prepared;
  }
}
