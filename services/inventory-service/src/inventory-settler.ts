import {
  approvalSettler,
  quantitiesBySku,
  type ReferenceNames,
} from '@sagaflow/reference-contracts';
import type { StockEntity } from './stock.js';

/**
 * Keeps the stocks' state small: an approved order's holds are taken for good, so they leave the
 * state of each SKU it took (`Settle`, a commit that publishes nothing), one write per SKU for the
 * approvals that arrive together. Approvals of earlier releases name no items: their holds stay.
 */
export const inventorySettler = (names: ReferenceNames, stock: StockEntity) =>
  approvalSettler(names, stock, ({ items }) => quantitiesBySku(items).map(([sku]) => sku));
