/**
 * The reference payment service, for a process that runs several services (the embedded demo).
 * On its own it runs from `src/main.ts`.
 * @module
 */
export { customerEntity } from './customer.js';
export type { CustomerEntity, CustomerOrder, CustomerState } from './customer.js';
export { paymentProcessor } from './payment-processor.js';
export { paymentSettler } from './payment-settler.js';
export { buildPaymentService } from './payment-service.js';
