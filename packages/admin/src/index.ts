/**
 * The sagaflow admin API (express): list, inspect and compensate sagas, with health, readiness and
 * Prometheus metrics, behind a bearer token.
 *
 * @example
 * ```ts
 * import { createAdminApp } from '@sagaflow/admin';
 *
 * const app = createAdminApp({ views, audit, token: process.env.ADMIN_TOKEN, readiness,
 *   requestCompensation: (id, request) => tracker.requestCompensation(id, request) });
 * app.listen(8080);
 * ```
 * @module
 */
export { createAdminApp } from './admin-app.js';
export type { AdminOptions, LagReader } from './admin-app.js';
export { errorHandler, HttpError, parseInput } from './http-errors.js';
export { shownReadiness } from './readiness.js';
export type { ReadinessLike, ShownCheck } from './readiness.js';
export { workflowRoutes } from './workflow-routes.js';
export type { WorkflowRoutesOptions } from './workflow-routes.js';
