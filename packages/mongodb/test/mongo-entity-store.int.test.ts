import { entityStoreContract } from '@sagaflow/testing';
import { MongoEntityStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('store');
entityStoreContract('MongoEntityStore', () => new MongoEntityStore(freshDatabase()));
