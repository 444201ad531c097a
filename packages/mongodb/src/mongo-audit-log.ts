import { SagaflowError, type AuditEntry, type AuditLog } from '@sagaflow/core';
import type { Db } from 'mongodb';

/** {@link AuditLog} on MongoDB or FerretDB: one inserted document per action, never changed. */
export class MongoAuditLog implements AuditLog {
  readonly #db: Db;

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

  async recent(limit: number): Promise<AuditEntry[]> {
    const docs = await this.#collection
      .find({}, { projection: { _id: 0 } })
      .sort({ at: -1 })
      .limit(limit)
      .toArray();
    return docs.map((doc) => ({ ...doc }));
  }
}
