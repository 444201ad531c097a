import { deadLetterStoreContract } from '@sagaflow/testing';
import { MongoDeadLetterStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('letters');
deadLetterStoreContract('MongoDeadLetterStore', () => new MongoDeadLetterStore(freshDatabase()));
