import { sagaViewStoreContract } from '@sagaflow/testing';
import { MongoSagaViewStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('views');
sagaViewStoreContract('MongoSagaViewStore', () => new MongoSagaViewStore(freshDatabase()));
