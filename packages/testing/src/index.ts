/**
 * The sagaflow test environment: real servers resolved once per vitest run, names that no other
 * test uses, and waiting on conditions instead of sleeping.
 *
 * @example
 * ```ts
 * // some-adapter.int.test.ts
 * import { Kafka } from 'kafkajs';
 * import { testEnv, uniqueTopic, waitFor } from '@sagaflow/testing';
 *
 * const kafka = new Kafka({ brokers: [...testEnv().kafkaBrokers] });
 * const topic = uniqueTopic('orders');
 * await waitFor(async () => (await admin.listTopics()).includes(topic), { timeoutMs: 5000 });
 * ```
 * @module
 */
export { auditLogContract } from './contracts/audit-log-contract.js';
export { deadLetterStoreContract } from './contracts/dead-letter-store-contract.js';
export { entityStoreContract } from './contracts/entity-store-contract.js';
export { eventSerdeContract } from './contracts/event-serde-contract.js';
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
export type { ContractSerde } from './contracts/event-serde-contract.js';
export { messageBusContract } from './contracts/message-bus-contract.js';
export { sagaViewStoreContract } from './contracts/saga-view-store-contract.js';
export { timerStoreContract } from './contracts/timer-store-contract.js';
export { viewStoreContract } from './contracts/view-store-contract.js';
export type { ContractBus } from './contracts/message-bus-contract.js';
export { waitForConsumerToJoinGroup } from './kafka-helpers.js';
export { uniqueDatabase, uniqueGroupId, uniqueName, uniqueTopic } from './names.js';
export { testEnv } from './provided-env.js';
export { containerImages, resolveServers } from './resolve-servers.js';
export type { ResolvedServers } from './resolve-servers.js';
export { serverEnvVars, serversFromEnvironment } from './test-env.js';
export type { SagaflowTestEnv } from './test-env.js';
export { runTsScript } from './run-script.js';
export { startServiceInMemory, startServiceOnServers } from './service-in-memory.js';
export type { ServiceInMemory } from './service-in-memory.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
