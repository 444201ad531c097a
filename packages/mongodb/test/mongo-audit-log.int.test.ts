import { auditLogContract } from '@sagaflow/testing';
import { MongoAuditLog } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('audit');
auditLogContract('MongoAuditLog', () => new MongoAuditLog(freshDatabase()));
