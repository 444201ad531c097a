/**
 * The in-memory adapters (now `@sagaflow/memory`, which production code imports) and the seeded
 * saga views, without vitest or testcontainers.
 * @module
 */
export {
  MemoryAuditLog,
  MemoryBus,
  MemoryBusClient,
  MemoryDeadLetterStore,
  MemoryEntityStore,
  MemorySagaViewStore,
  MemorySerde,
  MemoryTimerStore,
  MemoryViewStore,
} from '@sagaflow/memory';
export { seedSagaViews } from './saga-seed.js';
