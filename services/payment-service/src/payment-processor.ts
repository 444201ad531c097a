import { defineProcessor, eventsTopic } from '@sagaflow/core';
import {
  isWorkflowSaga,
  type ReferenceNames,
  type ReferencePayloads,
} from '@sagaflow/reference-contracts';
import type { CustomerEntity } from './customer.js';

/**
 * The payment's part in the choreography: authorizes an order's total once its stock is
 * reserved, and releases what it authorized when the order is cancelled (its saga's compensation
 * was requested). A cancelled order is released even before its payment was asked: the customer
 * keeps it released, so an authorization that comes later is refused. (Orchestrated orders reach
 * the customer through its command topic instead.)
 */
export const paymentProcessor = (names: ReferenceNames, customer: CustomerEntity) =>
  defineProcessor<ReferencePayloads>({
    name: 'payment',
    topics: [eventsTopic(names.reservation), eventsTopic(names.order)],
    filter: (e) => !isWorkflowSaga(e.sagaId),
    handlers: {
      StockReserved: async ({ payload }, ctx) => {
        await ctx.execute(customer, payload.customerId, 'Authorize', {
          orderId: payload.orderId,
          customerId: payload.customerId,
          amount: payload.total,
        });
      },
      OrderRejected: async ({ payload }, ctx) => {
        if (!payload.cancelled || payload.customerId === '') return;
        await ctx.execute(customer, payload.customerId, 'Release', {
          orderId: payload.orderId,
          customerId: payload.customerId,
        });
      },
    },
    ignore: [
      'StockReservationRequested',
      'StockReservationFailed',
      'StockReleased',
      'OrderCreated',
      'OrderApproved',
    ],
  });
