/**
 * The sagaflow reference system: order, inventory, payment and shipping services, the
 * orchestrator and the admin, as one library that each service's package starts, and that the
 * embedded demo runs in one process.
 * @module
 */
export {
  referenceDomain,
  referenceSchemaDirs,
  CHOREOGRAPHY_SAGA,
  ORDER_WORKFLOW,
} from './domain/domain.js';
export type { CreditView, ReferenceDomain, ReferenceDomainOptions } from './domain/domain.js';
export { referenceNames, serviceNames } from './domain/names.js';
export type { ReferenceNames, ServiceName } from './domain/names.js';
export { reserveOrder, referenceProcessors, isWorkflowSaga } from './domain/processors.js';
export { buildReferenceService } from './services.js';
export type { ReferenceService } from './services.js';
export { runServiceProcess, serviceLogger } from './run-service.js';
export { listen, serviceApp } from '@sagaflow/runtime';
export type { RunningService } from '@sagaflow/runtime';
export { loadServiceConfig, defaultPorts } from './runtime/config.js';
export type { ServiceConfig } from './runtime/config.js';
export { memoryAdapters, realAdapters } from './runtime/adapters.js';
export type { AdapterFactory, ServiceAdapters } from './runtime/adapters.js';
export { ReferenceClient, HttpStatusError } from './client.js';
export type { NewOrder, OrderView } from './client.js';
export {
  checkInvariants,
  mixedBatch,
  placeAll,
  seed,
  seededRandom,
  summarize,
  waitUntilTerminal,
} from './scenario.js';
export type { Starting } from './scenario.js';
export { ServiceSupervisor, freePort } from './supervisor.js';
export type { SupervisorOptions } from './supervisor.js';
export { startEmbedded } from './embedded.js';
export type { EmbeddedSystem } from './embedded.js';
export { startReferenceProcesses } from './processes.js';
export type { ReferenceProcesses } from './processes.js';
