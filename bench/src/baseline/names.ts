import { headerNames } from '@sagaflow/core';

/** The participants of the hand-written baseline, one process each. */
export type BaselineRole = 'order' | 'inventory' | 'payment' | 'shipping';

export const baselineRoles: readonly BaselineRole[] = ['order', 'inventory', 'payment', 'shipping'];

/**
 * The headers naming an event's type, saga and time of writing: sagaflow's names (plain
 * strings), so that one outcome consumer reads both.
 */
export { headerNames };

/** The baseline's topics under a namespace. */
export const baselineTopics = (namespace: string) => ({
  orders: `${namespace}.baseline.orders`,
  reservations: `${namespace}.baseline.reservations`,
  payments: `${namespace}.baseline.payments`,
  shipments: `${namespace}.baseline.shipments`,
});
