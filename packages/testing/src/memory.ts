/**
 * The in-memory adapters alone, for processes that are not tests (the embedded demo): importing
 * them does not load vitest or testcontainers.
 * @module
 */
export { MemoryAuditLog } from './memory-audit-log.js';
export { MemoryBus, MemoryBusClient } from './memory-bus.js';
export { MemoryDeadLetterStore } from './memory-dead-letter-store.js';
export { MemoryEntityStore } from './memory-entity-store.js';
export { MemorySagaViewStore } from './memory-saga-view-store.js';
export { MemorySerde } from './memory-serde.js';
export { MemoryTimerStore } from './memory-timer-store.js';
export { seedSagaViews } from './saga-seed.js';
