import { defaultPorts, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { runServiceMain } from '@sagaflow/runtime';
import { buildOrderService } from './order-service.js';

await runServiceMain({
  name: 'order-service',
  defaultPort: defaultPorts.order,
  schemaDirs: referenceSchemaDirs,
  build: buildOrderService,
});
