import { defineEntity } from '@sagaflow/core';
import type { SchemaTypes } from '@sagaflow/reference-contracts';

/** The shipment of one order (its id is the order id): at most one per order. */
export interface ShipmentState {
  readonly status: 'NONE' | 'SCHEDULED';
  readonly shipmentId?: string;
}

export const shipmentEntity = (type: string) =>
  defineEntity<
    ShipmentState,
    { Schedule: SchemaTypes['ScheduleShipment'] },
    Pick<SchemaTypes, 'ShipmentScheduled'>
  >({
    type,
    initialState: () => ({ status: 'NONE' }),
    commands: {
      Schedule: (state, _command, { entityId }) =>
        state.status === 'SCHEDULED'
          ? []
          : [
              {
                type: 'ShipmentScheduled',
                payload: { orderId: entityId, shipmentId: `shp-${entityId}` },
              },
            ],
    },
    evolve: (_state, event) => ({ status: 'SCHEDULED', shipmentId: event.payload.shipmentId }),
  });
export type ShipmentEntity = ReturnType<typeof shipmentEntity>;
