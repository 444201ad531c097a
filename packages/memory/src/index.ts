/**
 * In-memory adapters of every sagaflow port, for an embedded deployment (one process, nothing
 * kept) and for fast tests. They pass the same contract suites as the Kafka and MongoDB adapters
 * (`@sagaflow/testing`).
 *
 * ```ts
 * import { MemoryBus, MemoryEntityStore, MemorySerde } from '@sagaflow/memory';
 *
 * const bus = new MemoryBus();
 * const service = new SagaflowService({
 *   name: 'payment-service',
 *   store: new MemoryEntityStore(),
 *   bus: bus.client(),
 *   serde: new MemorySerde(catalog),
 *   entities: [customer],
 * });
 * ```
 * @module
 */
export { MemoryAuditLog } from './memory-audit-log.js';
export { MemoryBus, MemoryBusClient } from './memory-bus.js';
export { MemoryDeadLetterStore } from './memory-dead-letter-store.js';
export { MemoryEntityStore } from './memory-entity-store.js';
export { MemorySagaViewStore } from './memory-saga-view-store.js';
export { MemorySerde } from './memory-serde.js';
export { MemoryTimerStore } from './memory-timer-store.js';
export { MemoryViewStore } from './memory-view-store.js';
