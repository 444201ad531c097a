import { defineView, eventsTopic, type StepViews, type ViewReader } from '@sagaflow/core';
import type { ReferenceNames } from './names.js';
import type { SchemaTypes } from './types.js';

/** The name of the orchestrator's view of the customers' credit. */
export const CREDIT_VIEW = 'customer-credit';

/** Order ids a credit document remembers as authorized (a repeated answer is counted once). */
const REMEMBERED = 200;

/** A customer's credit, as the payment service's events tell it. */
export interface CustomerCredit {
  readonly customerId: string;
  /** Whether the customer's credit limit was ever set. */
  readonly known: boolean;
  readonly creditLimit: number;
  /** The amounts authorized and not released. */
  readonly creditReserved: number;
  /**
   * The latest orders authorized and not released, oldest first: the payment service answers a
   * repeated request with the same `PaymentAuthorized`, which changes nothing.
   */
  readonly authorized: readonly string[];
}

/** What a workflow step's read of the customer's credit returned. */
export interface CreditView {
  readonly customerId: string;
  readonly known: boolean;
  readonly creditLimit: number;
  readonly creditReserved: number;
}

const counted = ['CustomerCreditSet', 'PaymentAuthorized', 'PaymentReleased'];

// #region credit-view
/**
 * The customers' credit, built by the orchestrator from the payment service's events: a workflow
 * step reads it locally, so an order's first step reads credit while the payment service is down.
 */
export const customerCreditView = (names: ReferenceNames) =>
  defineView<CustomerCredit>({
    name: CREDIT_VIEW,
    topics: [eventsTopic(names.customer)],
    filter: (envelope) => counted.includes(envelope.type),
    key: (event) => event.entityId,
    initial: (customerId) => ({
      customerId,
      known: false,
      creditLimit: 0,
      creditReserved: 0,
      authorized: [],
    }),
    apply: (doc, event) => {
      switch (event.type) {
        case 'CustomerCreditSet': {
          const { creditLimit } = event.payload as unknown as SchemaTypes['CustomerCreditSet'];
          return { ...doc, known: true, creditLimit: Number(creditLimit) };
        }
        case 'PaymentAuthorized': {
          const { orderId, amount } = event.payload as unknown as SchemaTypes['PaymentAuthorized'];
          if (doc.authorized.includes(orderId)) return doc;
          return {
            ...doc,
            creditReserved: doc.creditReserved + Number(amount),
            authorized: [...doc.authorized, orderId].slice(-REMEMBERED),
          };
        }
        case 'PaymentReleased': {
          const { orderId, amount } = event.payload as unknown as SchemaTypes['PaymentReleased'];
          return {
            ...doc,
            creditReserved: doc.creditReserved - Number(amount),
            authorized: doc.authorized.filter((id) => id !== orderId),
          };
        }
        default:
          return doc;
      }
    },
    fields: { creditLimit: 'number', creditReserved: 'number', known: 'boolean' },
  });
// #endregion

// #region read-credit
/** Reads a customer's credit from the orchestrator's view (nothing known when it has none). */
export async function readCredit(views: StepViews, customerId: string): Promise<CreditView> {
  const doc = await (views[CREDIT_VIEW] as ViewReader<CustomerCredit>).get(customerId);
  return {
    customerId,
    known: doc?.known ?? false,
    creditLimit: doc?.creditLimit ?? 0,
    creditReserved: doc?.creditReserved ?? 0,
  };
}
// #endregion
