import { defaultPorts, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { runServiceMain } from '@sagaflow/runtime';
import { buildShippingService } from './shipping-service.js';

await runServiceMain({
  name: 'shipping-service',
  defaultPort: defaultPorts.shipping,
  schemaDirs: referenceSchemaDirs,
  build: buildShippingService,
});
