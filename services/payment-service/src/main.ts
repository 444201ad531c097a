import { defaultPorts, referenceSchemaDirs } from '@sagaflow/reference-contracts';
import { runServiceMain } from '@sagaflow/runtime';
import { buildPaymentService } from './payment-service.js';

await runServiceMain({
  name: 'payment-service',
  defaultPort: defaultPorts.payment,
  schemaDirs: referenceSchemaDirs,
  build: buildPaymentService,
});
