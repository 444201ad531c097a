/**
 * The process around a sagaflow service: what every service's `main.ts` needs and none should
 * write again: configuration from the environment, adapters for the real servers or in memory,
 * start-up that waits out servers not ready yet, a liveness watchdog that replaces a process
 * whose clients are stuck, graceful stop on signals, and the HTTP app with health, readiness and
 * metrics routes.
 *
 * ```ts
 * import { entityServiceProcess, runServiceMain, serviceContext } from '@sagaflow/runtime';
 *
 * await runServiceMain({
 *   name: 'payment-service',
 *   defaultPort: 3003,
 *   schemaDirs: ['schemas', controlSchemasDir],
 *   // Built afresh on each start-up attempt.
 *   build: async (config, adapters, options) => {
 *     const context = await serviceContext('payment-service', 'payments', config, adapters, options);
 *     return entityServiceProcess(context, { entities: [customer], processors: [payment] }, routes);
 *   },
 * });
 * ```
 * @module
 */
export { memoryAdapters, realAdapters } from './adapters.js';
export type { AdapterFactory, ServiceAdapters } from './adapters.js';
export { entityServiceProcess, serviceCompaction } from './entity-service-process.js';
export type { EntityServiceParts, EntityServiceProcess } from './entity-service-process.js';
export { countField, ID_PATTERN, idempotencyKeyOf, idField, idParam } from './http-input.js';
export { LivenessWatchdog } from './liveness-watchdog.js';
export type { LivenessProbe, LivenessWatchdogOptions } from './liveness-watchdog.js';
export { badSetting, loadProcessConfig, parseSetting, serversFromEnv } from './process-config.js';
export type { ProcessConfig, ServerAddresses } from './process-config.js';
export { serviceApp } from './service-app.js';
export type { LivenessReport, ReadinessReport } from './service-app.js';
export { instrumentsOf, serviceContext } from './service-context.js';
export type { ServiceBuildOptions, ServiceContext } from './service-context.js';
export { runServiceMain } from './service-main.js';
export type { ServiceMainOptions } from './service-main.js';
export { listen, livenessOf, runServiceProcess } from './service-process.js';
export type {
  ProcessLogger,
  RunningService,
  ServiceProcess,
  ServiceProcessOptions,
} from './service-process.js';
export { isTransientStartError, startBackoff, startWithRetries } from './start-with-retries.js';
export type { StartRetryOptions } from './start-with-retries.js';
