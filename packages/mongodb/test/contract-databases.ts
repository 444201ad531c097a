import { testEnv, uniqueDatabase } from '@sagaflow/testing';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll } from 'vitest';

/**
 * One client for a contract suite, and a fresh database for each store the suite makes; the
 * databases are dropped at the end.
 */
export function contractDatabases(prefix: string): () => Db {
  let client: MongoClient;
  const names: string[] = [];
  beforeAll(async () => {
    client = await new MongoClient(testEnv().mongodbUrl).connect();
  });
  afterAll(async () => {
    await Promise.all(
      names.map((name) =>
        client
          .db(name)
          .dropDatabase()
          .catch(() => {}),
      ),
    );
    await client.close();
  });
  return () => {
    const name = uniqueDatabase(prefix);
    names.push(name);
    return client.db(name);
  };
}
