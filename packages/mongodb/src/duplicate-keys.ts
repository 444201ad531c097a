import { MongoBulkWriteError, MongoServerError } from 'mongodb';

const DUPLICATE_KEY = 11000;

/**
 * The indexes of the documents an unordered `insertMany` refused for a duplicate key; undefined
 * when the error is anything else (or holds any other write error).
 */
export function duplicateIndexes(error: unknown): Set<number> | undefined {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const raw: unknown = error.writeErrors;
  const errors = (Array.isArray(raw) ? raw : [raw]) as { code?: unknown; index?: unknown }[];
  const refused = new Set<number>();
  for (const e of errors) {
    if (e.code !== DUPLICATE_KEY || typeof e.index !== 'number') return undefined;
    refused.add(e.index);
  }
  return refused;
}

/** Whether a write failed only for duplicate keys (one insert, or some of an insertMany). */
export const isDuplicateKey = (error: unknown): boolean =>
  (error instanceof MongoServerError && error.code === DUPLICATE_KEY) ||
  duplicateIndexes(error) !== undefined;
