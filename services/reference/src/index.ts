/**
 * The reference system as a whole: each service's package builds that service; this package
 * runs them together (the embedded demo, every service in one process on the in-memory
 * adapters), as supervised processes on real servers, and drives them (a client, scenarios and
 * their invariants) for the demo, the end-to-end and chaos tests and the benchmark.
 * @module
 */
export {
  CHOREOGRAPHY_SAGA,
  defaultPorts,
  ORDER_WORKFLOW,
  referenceNames,
  referenceSchemaDirs,
  serviceNames,
} from '@sagaflow/reference-contracts';
export type { CreditView, ReferenceNames, ServiceName } from '@sagaflow/reference-contracts';
export { listen, serviceApp } from '@sagaflow/runtime';
export type { AdapterFactory, RunningService, ServiceAdapters } from '@sagaflow/runtime';
export { memoryAdapters, realAdapters } from './adapters.js';
export { ReferenceClient, HttpStatusError } from './client.js';
export type { NewOrder, OrderView } from './client.js';
export { loadServiceConfig } from './config.js';
export type { ServiceConfig } from './config.js';
export { startEmbedded } from './embedded.js';
export type { EmbeddedSystem } from './embedded.js';
export {
  MAX_REPLICAS,
  participantServices,
  REPLICA_SHARDS,
  startReferenceProcesses,
} from './processes.js';
export type { ReferenceInstance, ReferenceProcesses } from './processes.js';
export {
  approveLargeOrder,
  checkInvariants,
  mixedBatch,
  placeAll,
  seed,
  seededRandom,
  settledInvariants,
  summarize,
  waitUntilTerminal,
} from './scenario.js';
export type { Starting } from './scenario.js';
export { buildReferenceService } from './services.js';
export type { ReferenceService } from './services.js';
export { ServiceSupervisor, freePort } from './supervisor.js';
export type { SupervisorOptions } from './supervisor.js';
