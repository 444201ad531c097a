import { commandBatcher } from '@sagaflow/core';
import {
  approvalSettler,
  SETTLE_LINGER_MS,
  type ReferenceNames,
} from '@sagaflow/reference-contracts';
import type { CustomerEntity } from './customer.js';

/**
 * Keeps the customers' state small: an approved order's authorization is final, so it leaves the
 * customer's state (`Settle`, a commit that publishes nothing; the amount stays reserved). The
 * approvals that arrive together are settled in one write per customer ({@link commandBatcher}),
 * not one per order.
 */
export const paymentSettler = (names: ReferenceNames, customer: CustomerEntity) => {
  const settle = commandBatcher(
    customer,
    'Settle',
    (orderIds: readonly string[]) => ({ orderIds }),
    { keyOf: (orderId) => orderId, lingerMs: SETTLE_LINGER_MS },
  );
  // Approvals of earlier releases name no customer: their authorizations stay.
  return approvalSettler(names, async ({ orderId, customerId }, ctx) => {
    if (customerId !== '') await settle(ctx, customerId, orderId);
  });
};
