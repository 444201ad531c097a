import type { ExecuteOptions, ProcessorContext } from '@sagaflow/core';
import { quantitiesBySku, type OrderRequest } from '@sagaflow/reference-contracts';
import type { ReservationEntity } from './reservation.js';
import { notHeldReason, type StockEntity } from './stock.js';

/** The inventory's two entities. */
export interface InventoryEntities {
  readonly stock: StockEntity;
  readonly reservation: ReservationEntity;
}

/** The causation key of an order's hold at a SKU: one per order, whichever run sends it. */
const holdKey = (orderId: string) => `hold:${orderId}`;

/**
 * Reserves an order's items SKU by SKU (in SKU order) and records the decision on the order's
 * reservation: confirmed when every SKU holds its quantity, refused (and the holds undone) when
 * one is short. Safe to run again and concurrently for the same order: a SKU takes one command
 * with the order's hold key (`hold:<orderId>`), a hold or, when the order was released before it
 * held there, the release's record, so every run ends on the same holds, also after the hold was
 * given back and left the stock's state; a repeated request gets the decision again, as
 * the answer to its own command, and gives back the holds of a refused order again (a run may
 * have died before it did).
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
    const result = await ctx.execute(
      stock,
      sku,
      'Hold',
      { orderId, quantity },
      { idempotencyKey: holdKey(orderId) },
    );
    if (result.status === 'rejected') throw new Error(result.rejection.reason);
    // The command with the order's hold key decided (now or in an earlier run): a hold, a short
    // stock, or a release that came first. Nothing decided: the order holds here already.
    const events = result.status === 'unchanged' ? [] : result.events;
    if (
      events.some((e) => e.type === 'StockItemReserved') ||
      (result.status === 'unchanged' && result.state.holds[orderId] !== undefined)
    ) {
      held.push(sku);
      continue;
    }
    shortReason = notHeldReason(sku, events) ?? `${sku} holds nothing for ${orderId}`;
    break;
  }
  const decided =
    shortReason === undefined
      ? await ctx.execute(reservation, orderId, 'Confirm', { ...order }, answer)
      : await ctx.execute(reservation, orderId, 'Refuse', { orderId, reason: shortReason }, answer);
  if (decided.status === 'rejected') throw new Error(decided.rejection.reason);
  // Refused, or released meanwhile: nothing of this order stays held (this run's holds are
  // known, so they are given back without asking whose the hold key is).
  if (decided.state.status !== 'RESERVED') await unholdAll(stock, ctx, orderId, held, 'held');
}

/**
 * Undoes an order's holds at these SKUs. At a SKU where the order has not held (yet), the release
 * takes the order's hold key, so that a hold that comes later is refused; where it held, the hold
 * is given back once (key `unhold:<orderId>`).
 */
export async function unholdAll(
  stock: StockEntity,
  ctx: ProcessorContext,
  orderId: string,
  skus: Iterable<string>,
  /** `held`: the order is known to hold at these SKUs (no release can take the hold key). */
  known?: 'held',
): Promise<void> {
  for (const sku of skus) {
    // Held here (as the state last seen says, or known): given back once, at once. Asking with
    // the hold key first would find it taken: a duplicate, which costs the store a look-up by key
    // (a scan on FerretDB) when this process has not seen the hold's commit.
    if (known === 'held' || (await ctx.load(stock, sku)).state.holds[orderId] !== undefined) {
      await ctx.execute(stock, sku, 'Unhold', { orderId }, { idempotencyKey: `unhold:${orderId}` });
      continue;
    }
    const first = await ctx.execute(
      stock,
      sku,
      'Unhold',
      { orderId },
      { idempotencyKey: holdKey(orderId) },
    );
    if (first.status === 'duplicate' && first.events.some((e) => e.type === 'StockItemReserved')) {
      await ctx.execute(stock, sku, 'Unhold', { orderId }, { idempotencyKey: `unhold:${orderId}` });
    }
  }
}
