import type { BenchOrder, LoadTarget } from '../load.js';
import { CallOutcomes } from '../outcomes.js';

/** What the peers' order workflow takes: one order line, its amount worked out. */
export interface WorkflowInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly amount: number;
}

/**
 * A load target whose call answers when the workflow has ended: each order gets a fresh id and
 * its call is followed by a {@link CallOutcomes}.
 */
export function callTarget(
  invoke: (input: WorkflowInput) => Promise<unknown>,
): LoadTarget & { readonly outcomes: CallOutcomes } {
  return keyedCallTarget('o', (orderId, order) => {
    const line = order.items[0]!;
    return invoke({
      orderId,
      customerId: order.customerId,
      sku: line.sku,
      quantity: line.quantity,
      amount: line.quantity * line.unitPrice,
    });
  });
}

/**
 * A load target whose call answers (`completed` or `compensated`) when its workflow has ended:
 * each call gets a fresh key, `<prefix>-<n>-<time>`, and is followed by a {@link CallOutcomes}.
 */
export function keyedCallTarget(
  prefix: string,
  invoke: (key: string, order: BenchOrder) => Promise<unknown>,
): LoadTarget & { readonly outcomes: CallOutcomes } {
  const outcomes = new CallOutcomes();
  let n = 0;
  return {
    outcomes,
    place: (order: BenchOrder) => {
      n += 1;
      const key = `${prefix}-${n}-${Date.now().toString(36)}`;
      outcomes.track(key, invoke(key, order) as Promise<'completed' | 'compensated'>);
      return Promise.resolve(key);
    },
  };
}
