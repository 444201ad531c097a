/**
 * The reference orchestrator service, for a process that runs several services (the embedded
 * demo). On its own it runs from `src/main.ts`.
 * @module
 */
export { buildOrchestratorService, loadOrchestratorConfig } from './orchestrator-service.js';
export type { OrchestratorConfig } from './orchestrator-service.js';
