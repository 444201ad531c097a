import { defineView, eventsTopic } from '@sagaflow/core';
import type { ReferenceNames, SchemaTypes } from '@sagaflow/reference-contracts';

/** The name of the order service's view of each customer's orders. */
export const ORDERS_BY_CUSTOMER = 'orders-by-customer';

/** An order as a customer's list shows it. */
export interface CustomerOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: 'PENDING' | 'AWAITING_APPROVAL' | 'APPROVED' | 'REJECTED';
  readonly total: number;
  readonly mode: 'choreography' | 'orchestration';
  /** When it was placed (ISO-8601). */
  readonly createdAt: string;
}

const listed = ['OrderCreated', 'OrderApprovalRequested', 'OrderApproved', 'OrderRejected'];

/**
 * One document per order, from the orders' own events, queried by customer and status, newest
 * first (`GET /customers/:id/orders`).
 */
export const ordersByCustomerView = (names: ReferenceNames) =>
  defineView<CustomerOrder>({
    name: ORDERS_BY_CUSTOMER,
    topics: [eventsTopic(names.order)],
    filter: (envelope) => listed.includes(envelope.type),
    key: (event) => event.entityId,
    initial: (orderId) => ({
      orderId,
      customerId: '',
      status: 'PENDING',
      total: 0,
      mode: 'choreography',
      createdAt: '',
    }),
    apply: (doc, event) => {
      switch (event.type) {
        case 'OrderCreated': {
          const created = event.payload as unknown as SchemaTypes['OrderCreated'];
          return {
            ...doc,
            customerId: created.customerId,
            total: Number(created.total),
            mode: created.mode === 'ORCHESTRATION' ? 'orchestration' : 'choreography',
            createdAt: event.occurredAt,
          };
        }
        case 'OrderApprovalRequested':
          return { ...doc, status: 'AWAITING_APPROVAL' };
        case 'OrderApproved':
          return { ...doc, status: 'APPROVED' };
        case 'OrderRejected':
          return { ...doc, status: 'REJECTED' };
        default:
          return doc;
      }
    },
    fields: { customerId: 'string', status: 'string', createdAt: 'string' },
  });
