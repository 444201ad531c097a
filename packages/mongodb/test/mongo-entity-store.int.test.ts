import { entityStoreContract, testEnv, uniqueDatabase } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll } from 'vitest';
import { MongoEntityStore } from '../src/index.js';

let client: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  client = await new MongoClient(testEnv().mongodbUrl).connect();
});

afterAll(async () => {
  await Promise.all(
    databases.map((name) =>
      client
        .db(name)
        .dropDatabase()
        .catch(() => {}),
    ),
  );
  await client.close();
});

entityStoreContract('MongoEntityStore', () => {
  const name = uniqueDatabase('store');
  databases.push(name);
  return new MongoEntityStore(client.db(name));
});
