import type { ExecuteOptions, ProcessorContext } from '@sagaflow/core';
import { quantitiesBySku, type OrderRequest } from '@sagaflow/reference-contracts';
import type { ReservationEntity } from './reservation.js';
import type { StockEntity } from './stock.js';

/** The inventory's two entities. */
export interface InventoryEntities {
  readonly stock: StockEntity;
  readonly reservation: ReservationEntity;
}

/**
 * Reserves an order's items SKU by SKU (in SKU order) and records the decision on the order's
 * reservation: confirmed when every SKU holds its quantity, refused (and the holds undone) when
 * one is short. Safe to run again and concurrently for the same order: holds are idempotent per
 * order and a refused or released order is closed at each SKU, so every run ends on the same
 * holds; a repeated request gets the decision again, as the answer to its own command, and
 * gives back the holds of a refused order again (a run may have died before it did).
 */
export async function reserveOrder(
  { stock, reservation }: InventoryEntities,
  ctx: ProcessorContext,
  order: OrderRequest,
  answer?: ExecuteOptions,
): Promise<void> {
  const { orderId } = order;
  const current = await ctx.load(reservation, orderId);
  if (current.state.status === 'FAILED' || current.state.status === 'RESERVED') {
    const decided =
      current.state.status === 'RESERVED'
        ? await ctx.execute(reservation, orderId, 'Confirm', { ...order }, answer)
        : await ctx.execute(reservation, orderId, 'Refuse', { orderId, reason: '' }, answer);
    if (decided.status === 'rejected') throw new Error(decided.rejection.reason);
    // A run that refused may have died before it gave its holds back: give back what is left.
    if (decided.state.status !== 'RESERVED') {
      await unholdAll(
        stock,
        ctx,
        orderId,
        quantitiesBySku(order.items).map(([sku]) => sku),
      );
    }
    return;
  }
  const held: string[] = [];
  let shortReason: string | undefined;
  for (const [sku, quantity] of quantitiesBySku(order.items)) {
    const result = await ctx.execute(stock, sku, 'Hold', { orderId, quantity });
    if (result.status === 'rejected') throw new Error(result.rejection.reason);
    if (result.state.holds[orderId] !== undefined) {
      held.push(sku);
      continue;
    }
    shortReason = result.state.closed[orderId] ?? `${sku} holds nothing for ${orderId}`;
    break;
  }
  const decided =
    shortReason === undefined
      ? await ctx.execute(reservation, orderId, 'Confirm', { ...order }, answer)
      : await ctx.execute(reservation, orderId, 'Refuse', { orderId, reason: shortReason }, answer);
  if (decided.status === 'rejected') throw new Error(decided.rejection.reason);
  // Refused, or released meanwhile: nothing of this order stays held.
  if (decided.state.status !== 'RESERVED') await unholdAll(stock, ctx, orderId, held);
}

/** Undoes an order's holds at these SKUs (and closes the order there). */
export async function unholdAll(
  stock: StockEntity,
  ctx: ProcessorContext,
  orderId: string,
  skus: Iterable<string>,
): Promise<void> {
  for (const sku of skus) await ctx.execute(stock, sku, 'Unhold', { orderId });
}
