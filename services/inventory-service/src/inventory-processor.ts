import { defineProcessor, eventsTopic, type ProcessorContext } from '@sagaflow/core';
import {
  isWorkflowSaga,
  quantitiesBySku,
  type ReferenceNames,
  type ReferencePayloads,
} from '@sagaflow/reference-contracts';
import { reserveOrder, unholdAll, type InventoryEntities } from './reserve-order.js';

/**
 * The inventory's part in both styles: reserves an order's stock when it is created (in a
 * choreography) or when its reservation is requested (the workflow's `ReserveStock`), releases it
 * when the payment is refused or the order is cancelled, and frees the stock of a released
 * reservation.
 */
export const inventoryProcessor = (names: ReferenceNames, entities: InventoryEntities) => {
  const { stock, reservation } = entities;
  /** The SKUs of an order, as its reservation holds them. */
  const skusOf = async (ctx: ProcessorContext, orderId: string) =>
    quantitiesBySku((await ctx.load(reservation, orderId)).state.items).map(([sku]) => sku);
  return defineProcessor<ReferencePayloads>({
    name: 'inventory',
    topics: [eventsTopic(names.order), eventsTopic(names.customer), eventsTopic(reservation.type)],
    // Requests and releases of reservations come from both styles; the rest from choreographies.
    filter: (e) =>
      e.type === 'StockReservationRequested' ||
      e.type === 'StockReleased' ||
      !isWorkflowSaga(e.sagaId),
    handlers: {
      OrderCreated: ({ payload }, ctx) => reserveOrder(entities, ctx, payload),
      StockReservationRequested: (event, ctx) =>
        reserveOrder(entities, ctx, event.payload, { causationId: event.causationId }),
      // Compensation: the payment was refused.
      PaymentFailed: async ({ payload }, ctx) => {
        await ctx.execute(reservation, payload.orderId, 'Release', {
          orderId: payload.orderId,
          reason: payload.reason,
        });
      },
      // The order was cancelled (its saga's compensation was requested): undone whatever step
      // the saga reached; a reservation that comes later is refused.
      OrderRejected: async ({ payload }, ctx) => {
        if (!payload.cancelled) return;
        await ctx.execute(reservation, payload.orderId, 'Release', {
          orderId: payload.orderId,
          reason: payload.reason,
        });
      },
      // A released reservation frees its stock.
      StockReleased: async ({ payload }, ctx) => {
        await unholdAll(stock, ctx, payload.orderId, await skusOf(ctx, payload.orderId));
      },
    },
    ignore: [
      'OrderApproved',
      'CustomerCreditSet',
      'PaymentAuthorized',
      'PaymentReleased',
      'StockReserved',
      'StockReservationFailed',
    ],
  });
};
