import { sagaViewStoreContract, testEnv, uniqueDatabase } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll } from 'vitest';
import { MongoSagaViewStore } from '../src/index.js';

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

sagaViewStoreContract('MongoSagaViewStore', () => {
  const name = uniqueDatabase('views');
  databases.push(name);
  return new MongoSagaViewStore(client.db(name));
});
