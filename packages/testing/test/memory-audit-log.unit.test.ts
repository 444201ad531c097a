import { auditLogContract, MemoryAuditLog } from '../src/index.js';

auditLogContract('MemoryAuditLog', () => new MemoryAuditLog());
