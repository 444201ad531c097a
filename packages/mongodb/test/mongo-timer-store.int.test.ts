import { timerStoreContract } from '@sagaflow/testing';
import { MongoTimerStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('timers');
timerStoreContract('MongoTimerStore', () => new MongoTimerStore(freshDatabase()));
