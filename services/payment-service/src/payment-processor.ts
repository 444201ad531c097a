import { defineProcessor, eventsTopic, sagaControlTopic } from '@sagaflow/core';
import {
  isWorkflowSaga,
  type ReferenceNames,
  type ReferencePayloads,
} from '@sagaflow/reference-contracts';
import type { CustomerEntity } from './customer.js';

/**
 * The payment's part in the choreography: authorizes an order's total once its stock is
 * reserved, and releases what it authorized when an operator asks to compensate the saga.
 * (Orchestrated orders reach the customer through its command topic instead.)
 */
export const paymentProcessor = (names: ReferenceNames, customer: CustomerEntity) =>
  defineProcessor<ReferencePayloads>({
    name: 'payment',
    topics: [eventsTopic(names.reservation), sagaControlTopic],
    filter: (e) => !isWorkflowSaga(e.sagaId),
    handlers: {
      StockReserved: async ({ payload }, ctx) => {
        await ctx.execute(customer, payload.customerId, 'Authorize', {
          orderId: payload.orderId,
          customerId: payload.customerId,
          amount: payload.total,
        });
      },
      SagaCompensationRequested: async ({ payload }, ctx) => {
        for (const step of payload.steps.filter((s) => s.entityType === customer.type)) {
          await ctx.execute(customer, step.entityId, 'Release', {
            orderId: payload.businessKey,
            customerId: step.entityId,
          });
        }
      },
    },
    ignore: ['StockReservationRequested', 'StockReservationFailed', 'StockReleased'],
  });
