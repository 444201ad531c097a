import { defaultPorts, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { runServiceMain } from '@sagaflow/runtime';
import { buildAdminService, loadAdminConfig } from './admin-service.js';

await runServiceMain({
  name: 'admin-service',
  defaultPort: defaultPorts.admin,
  schemaDirs: referenceSchemaDirs,
  loadConfig: loadAdminConfig,
  build: buildAdminService,
});
