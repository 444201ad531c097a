import { commandBatcher } from '@sagaflow/core';
import {
  approvalSettler,
  SETTLE_LINGER_MS,
  quantitiesBySku,
  type ReferenceNames,
} from '@sagaflow/reference-contracts';
import type { StockEntity } from './stock.js';

/**
 * Keeps the stocks' state small: an approved order's holds are taken for good, so they leave the
 * state of each SKU it took (`Settle`, a commit that publishes nothing). The approvals that
 * arrive together are settled in one write per SKU ({@link commandBatcher}), not one per order.
 */
export const inventorySettler = (names: ReferenceNames, stock: StockEntity) => {
  const settle = commandBatcher(stock, 'Settle', (orderIds: readonly string[]) => ({ orderIds }), {
    keyOf: (orderId) => orderId,
    lingerMs: SETTLE_LINGER_MS,
  });
  // Approvals of earlier releases name no items: their holds stay.
  return approvalSettler(names, ({ orderId, items }, ctx) =>
    Promise.all(quantitiesBySku(items).map(([sku]) => settle(ctx, sku, orderId))),
  );
};
