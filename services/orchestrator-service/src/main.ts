import { defaultPorts, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { runServiceMain } from '@sagaflow/runtime';
import { buildOrchestratorService, loadOrchestratorConfig } from './orchestrator-service.js';

await runServiceMain({
  name: 'orchestrator-service',
  defaultPort: defaultPorts.orchestrator,
  schemaDirs: referenceSchemaDirs,
  loadConfig: loadOrchestratorConfig,
  build: buildOrchestratorService,
});
