import { MongoClient } from 'mongodb';

/**
 * A ping of the database by a client of its own, connected for it and closed after: whether the
 * server answers at all, whatever state a long-lived client of the process is in. For
 * {@link MongoEntityStore}'s `freshPing`.
 *
 * @param url The connection string the process's client was made with.
 * @param timeoutMs How long the server may take to be found and to answer. @default 2000
 */
export function freshPing(url: string, timeoutMs = 2000): () => Promise<void> {
  return async () => {
    const client = new MongoClient(url, {
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: timeoutMs,
      maxPoolSize: 1,
    });
    try {
      await client.db('admin').command({ ping: 1 });
    } finally {
      await client.close().catch(() => {});
    }
  };
}
