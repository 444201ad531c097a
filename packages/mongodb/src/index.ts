/**
 * MongoDB adapter of sagaflow: {@link MongoEntityStore} keeps each entity's commits, with their
 * outbox events and dedupe keys, one document per commit. Runs on MongoDB and on FerretDB v1.
 *
 * @example
 * ```ts
 * import { MongoClient } from 'mongodb';
 * import { EntityService } from '@sagaflow/core';
 * import { MongoEntityStore } from '@sagaflow/mongodb';
 *
 * const client = await new MongoClient(process.env.MONGODB_URL!).connect();
 * const store = new MongoEntityStore(client.db('inventory'));
 * const service = new EntityService({ store, service: 'inventory-service' });
 * ```
 * @module
 */
export { freshPing } from './fresh-ping.js';
export { MongoAuditLog } from './mongo-audit-log.js';
export { MongoDeadLetterStore } from './mongo-dead-letter-store.js';
export { MongoEntityStore } from './mongo-entity-store.js';
export { MongoSagaViewStore } from './mongo-saga-view-store.js';
export { MongoTimerStore } from './mongo-timer-store.js';
export { MongoViewStore } from './mongo-view-store.js';
