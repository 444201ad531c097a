/**
 * The reference inventory service, for a process that runs several services (the embedded
 * demo). On its own it runs from `src/main.ts`.
 * @module
 */
export { inventoryProcessor } from './inventory-processor.js';
export { inventorySettler } from './inventory-settler.js';
export { buildInventoryService } from './inventory-service.js';
export { reservationEntity } from './reservation.js';
export type { ReservationEntity, ReservationState } from './reservation.js';
export { reserveOrder, unholdAll } from './reserve-order.js';
export type { InventoryEntities } from './reserve-order.js';
export { reservedOf, stockEntity } from './stock.js';
export type { StockEntity, StockState } from './stock.js';
