import { sagaViewStoreContract } from '@sagaflow/testing';
import type { Db } from 'mongodb';
import { MongoSagaViewStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('views');
const databases = new WeakMap<MongoSagaViewStore, Db>();
sagaViewStoreContract(
  'MongoSagaViewStore',
  () => {
    const db = freshDatabase();
    const store = new MongoSagaViewStore(db);
    databases.set(store, db);
    return store;
  },
  // Another process's store: same database, nothing cached.
  (store) => {
    const db = databases.get(store as MongoSagaViewStore);
    if (db === undefined) throw new Error('not a store of this suite');
    return new MongoSagaViewStore(db);
  },
);
