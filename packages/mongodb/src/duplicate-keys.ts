import { MongoBulkWriteError, MongoServerError } from 'mongodb';

const DUPLICATE_KEY = 11000;

/**
 * The indexes of the documents an unordered `insertMany` of `documents` documents refused for a
 * duplicate key, when every other document was inserted; undefined when the error is anything
 * else. The driver reports a failure of the write itself (a connection that broke, the database
 * stopping mid-request) as a bulk write error too, without write errors: then nothing is known of
 * the documents, and none may be taken as written.
 */
export function duplicateIndexes(error: unknown, documents: number): Set<number> | undefined {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const raw: unknown = error.writeErrors;
  const errors = (Array.isArray(raw) ? raw : [raw]) as { code?: unknown; index?: unknown }[];
  if (errors.length === 0) return undefined;
  const refused = new Set<number>();
  for (const e of errors) {
    if (e.code !== DUPLICATE_KEY || typeof e.index !== 'number') return undefined;
    refused.add(e.index);
  }
  // Every document accounted for: inserted, or refused for its key.
  if (error.result.insertedCount + refused.size !== documents) return undefined;
  return refused;
}

/** Whether a write of `documents` documents failed only for duplicate keys (one insert, or some of an insertMany). */
export const isDuplicateKey = (error: unknown, documents = 1): boolean =>
  (error instanceof MongoServerError &&
    !(error instanceof MongoBulkWriteError) &&
    error.code === DUPLICATE_KEY) ||
  duplicateIndexes(error, documents) !== undefined;
