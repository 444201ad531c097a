import { defineProcessor, eventsTopic, sagaControlTopic } from '@sagaflow/core';
import {
  isWorkflowSaga,
  ORDER_WORKFLOW,
  type ReferenceNames,
  type ReferencePayloads,
} from '@sagaflow/reference-contracts';
import type { OrderEntity } from './order.js';

/**
 * The order's part in both styles: in a choreography it approves the order once the payment is
 * authorized and rejects it when the stock was refused or released; an orchestrated order whose
 * workflow compensated (or could not) is rejected with the workflow's reason. A choreography's
 * compensation request reaches the order first: the order decides (a pending order is cancelled,
 * an approved one stays approved), and the other participants undo their part of a cancelled
 * order, so that nothing is undone of a saga that completed.
 */
export const orderProcessor = (names: ReferenceNames, order: OrderEntity) =>
  defineProcessor<ReferencePayloads>({
    name: 'orders',
    topics: [
      eventsTopic(names.reservation),
      eventsTopic(names.customer),
      eventsTopic(names.workflow),
      sagaControlTopic,
    ],
    filter: (e) =>
      e.entityType === names.workflow
        ? e.type === 'WorkflowCompensated' || e.type === 'WorkflowFailed'
        : !isWorkflowSaga(e.sagaId),
    handlers: {
      PaymentAuthorized: async ({ payload }, ctx) => {
        await ctx.execute(order, payload.orderId, 'Approve', {});
      },
      StockReservationFailed: async ({ payload }, ctx) => {
        await ctx.execute(order, payload.orderId, 'Reject', { reason: payload.reason });
      },
      // The reservation was undone: everything after it was undone before.
      StockReleased: async ({ payload }, ctx) => {
        await ctx.execute(order, payload.orderId, 'Reject', {
          reason: payload.reason === '' ? 'the stock reservation was released' : payload.reason,
        });
      },
      SagaCompensationRequested: async ({ payload }, ctx) => {
        if (payload.businessKey === '') return;
        await ctx.execute(order, payload.businessKey, 'Cancel', {
          reason: `compensation requested by ${payload.requestedBy}: ${payload.reason}`,
        });
      },
      WorkflowCompensated: async ({ payload }, ctx) => {
        if (payload.workflowType !== ORDER_WORKFLOW || payload.businessKey === '') return;
        await ctx.execute(order, payload.businessKey, 'Reject', { reason: payload.reason });
      },
      WorkflowFailed: async ({ payload }, ctx) => {
        if (payload.workflowType !== ORDER_WORKFLOW || payload.businessKey === '') return;
        await ctx.execute(order, payload.businessKey, 'Reject', {
          reason: `${payload.reason} (compensation of ${payload.step} failed)`,
        });
      },
    },
    ignore: [
      'StockReservationRequested',
      'StockReserved',
      'CustomerCreditSet',
      'PaymentFailed',
      'PaymentReleased',
    ],
  });
