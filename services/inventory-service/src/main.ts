import { defaultPorts, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { runServiceMain } from '@sagaflow/runtime';
import { buildInventoryService } from './inventory-service.js';

await runServiceMain({
  name: 'inventory-service',
  defaultPort: defaultPorts.inventory,
  schemaDirs: referenceSchemaDirs,
  build: buildInventoryService,
});
