/**
 * The process around a sagaflow service: what every service's `main.ts` needs and none should
 * write again.
 *
 * ```ts
 * import { runServiceProcess, serviceApp } from '@sagaflow/runtime';
 *
 * await runServiceProcess({
 *   address: { host: '127.0.0.1', port: 3003 },
 *   logger,
 *   // Built afresh on each start-up attempt (servers still starting are waited out).
 *   build: async ({ liveness }) => {
 *     const sagaflow = new SagaflowService({ ... });
 *     const readiness = () => sagaflow.readiness();
 *     const { app } = serviceApp({ service: 'payment-service', readiness, liveness, routes });
 *     return { name: 'payment-service', app, readiness, start: () => sagaflow.start(), stop: () => sagaflow.stop() };
 *   },
 * });
 * ```
 * @module
 */
export { LivenessWatchdog } from './liveness-watchdog.js';
export type { LivenessProbe, LivenessWatchdogOptions } from './liveness-watchdog.js';
export { serviceApp } from './service-app.js';
export type { LivenessReport, ReadinessReport } from './service-app.js';
export { listen, livenessOf, runServiceProcess } from './service-process.js';
export type {
  ProcessLogger,
  RunningService,
  ServiceProcess,
  ServiceProcessOptions,
} from './service-process.js';
export { isTransientStartError, startWithRetries } from './start-with-retries.js';
export type { StartRetryOptions } from './start-with-retries.js';
