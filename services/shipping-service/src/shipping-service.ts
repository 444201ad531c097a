import { parseInput } from '@sagaflow/admin';
import { defineCommandEndpoint } from '@sagaflow/core';
import { referenceNames } from '@sagaflow/reference-contracts';
import {
  entityServiceProcess,
  ID_PATTERN,
  serviceContext,
  type AdapterFactory,
  type EntityServiceProcess,
  type ProcessConfig,
  type ServiceBuildOptions,
} from '@sagaflow/runtime';
import { z } from 'zod';
import { shipmentEntity } from './shipment.js';
import { shippingProcessor } from './shipping-processor.js';

const shipmentsQuery = z.strictObject({
  orderId: z
    .string({ error: 'orderId must be given' })
    .regex(ID_PATTERN, 'orderId must be 1 to 100 letters, digits or . _ : @ -'),
});

/**
 * The shipping service: shipments, one per order at most (`shipping.shipment`, keyed by order
 * id). It schedules an approved order's shipment, in a choreography (its processor) or when the
 * order workflow sends `ScheduleShipment`. `GET /shipments?orderId=` lists an order's shipments.
 */
export async function buildShippingService(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<EntityServiceProcess> {
  const names = referenceNames(config.namespace);
  const context = await serviceContext(
    names.service('shipping'),
    names.database('shipping'),
    config,
    adapters,
    options,
  );
  const shipment = shipmentEntity(names.shipment);
  const commands = defineCommandEndpoint({
    entity: shipment,
    commands: { ScheduleShipment: 'Schedule' },
  });
  return entityServiceProcess(
    context,
    {
      entities: [shipment],
      processors: [shippingProcessor(names, shipment)],
      commandEndpoints: [commands],
    },
    (app, service) => {
      app.get('/shipments', async (req, res) => {
        const { orderId } = parseInput(shipmentsQuery, req.query);
        const { state } = await service.commands.load(shipment, orderId);
        res.json(
          state.status === 'SCHEDULED'
            ? [{ shipmentId: state.shipmentId, orderId, status: state.status }]
            : [],
        );
      });
    },
  );
}
