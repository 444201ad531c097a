import type { SagaCompensationRequested, WorkflowEvents } from '@sagaflow/core';
import type { SchemaTypes } from '../../../schemas/generated/types.js';

export type { SchemaTypes };

/**
 * Every payload a reference processor may read: the services' events and commands, the
 * workflows' outcomes, and an operator's compensation request.
 */
export type ReferencePayloads = SchemaTypes &
  Pick<WorkflowEvents, 'WorkflowCompensated' | 'WorkflowFailed'> & {
    SagaCompensationRequested: SagaCompensationRequested;
  };
/** One line of an order. Prices are in minor units (cents). */
export type OrderItem = SchemaTypes['OrderCreated']['items'][number];
/** How an order's saga runs. */
export type SagaMode = SchemaTypes['OrderCreated']['mode'];

/** What inventory and payment need to know of an order. */
export interface OrderRequest {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly total: number;
}

/** Quantities per SKU of an order, SKUs sorted (every reservation takes them in one order). */
export function quantitiesBySku(items: readonly OrderItem[]): [string, number][] {
  const bySku = new Map<string, number>();
  for (const item of items) bySku.set(item.sku, (bySku.get(item.sku) ?? 0) + item.quantity);
  return [...bySku.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The total of an order's items. */
export const totalOf = (items: readonly OrderItem[]) =>
  items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
