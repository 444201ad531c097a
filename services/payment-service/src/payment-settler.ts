import { approvalSettler, type ReferenceNames } from '@sagaflow/reference-contracts';
import type { CustomerEntity } from './customer.js';

/**
 * Keeps the customers' state small: an approved order's authorization is final, so it leaves the
 * customer's state (`Settle`, a commit that publishes nothing; the amount stays reserved), one
 * write per customer for the approvals that arrive together. Approvals of earlier releases name
 * no customer: their authorizations stay.
 */
export const paymentSettler = (names: ReferenceNames, customer: CustomerEntity) =>
  approvalSettler(names, customer, ({ customerId }) => (customerId === '' ? [] : [customerId]));
