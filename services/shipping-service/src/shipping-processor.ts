import { defineProcessor, eventsTopic } from '@sagaflow/core';
import {
  isWorkflowSaga,
  type ReferenceNames,
  type ReferencePayloads,
} from '@sagaflow/reference-contracts';
import type { ShipmentEntity } from './shipment.js';

/** The shipping's part in the choreography: schedules the shipment of an approved order. */
export const shippingProcessor = (names: ReferenceNames, shipment: ShipmentEntity) =>
  defineProcessor<ReferencePayloads>({
    name: 'shipping',
    topics: [eventsTopic(names.order)],
    filter: (e) => !isWorkflowSaga(e.sagaId),
    handlers: {
      OrderApproved: async ({ payload }, ctx) => {
        await ctx.execute(shipment, payload.orderId, 'Schedule', { orderId: payload.orderId });
      },
    },
    ignore: ['OrderCreated', 'OrderRejected'],
  });
