/**
 * The reference order service, for a process that runs several services (the embedded demo).
 * On its own it runs from `src/main.ts`.
 * @module
 */
export { orderEntity } from './order.js';
export type { OrderCommands, OrderEntity, OrderState, OrderStatus } from './order.js';
export { orderProcessor } from './order-processor.js';
export { buildOrderService } from './order-service.js';
