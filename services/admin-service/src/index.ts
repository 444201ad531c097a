/**
 * The reference admin service, for a process that runs several services (the embedded demo).
 * On its own it runs from `src/main.ts`.
 * @module
 */
export { buildAdminService, loadAdminConfig } from './admin-service.js';
