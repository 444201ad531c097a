/**
 * The reference shipping service, for a process that runs several services (the embedded demo).
 * On its own it runs from `src/main.ts`.
 * @module
 */
export { shipmentEntity } from './shipment.js';
export type { ShipmentEntity, ShipmentState } from './shipment.js';
export { shippingProcessor } from './shipping-processor.js';
export { buildShippingService } from './shipping-service.js';
