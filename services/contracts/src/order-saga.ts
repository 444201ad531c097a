import { defineSaga, eventsTopic, sagaControlTopic } from '@sagaflow/core';
import type { ReferenceNames } from './names.js';

/** The choreography saga's type, as listed in the admin. */
export const CHOREOGRAPHY_SAGA = 'order-placement';

/** Saga ids of orchestrated workflows: the choreography's processors leave their events alone. */
export const isWorkflowSaga = (sagaId: string) => /^wf-[0-9a-f]{32}$/.test(sagaId);

// #region order-saga
/**
 * The order placement as a choreography: which service takes which step on which event. No
 * service runs it; the admin's tracker follows each saga with it.
 */
export function orderSaga(names: ReferenceNames, options: { readonly deadlineMs?: number } = {}) {
  const deadlineMs = options.deadlineMs ?? 120_000;
  return defineSaga({
    type: CHOREOGRAPHY_SAGA,
    startsWith: 'OrderCreated',
    topics: [
      eventsTopic(names.order),
      eventsTopic(names.reservation),
      eventsTopic(names.customer),
      eventsTopic(names.shipment),
      sagaControlTopic,
    ],
    businessKey: 'orderId',
    steps: [
      {
        name: 'reserve-stock',
        participant: names.service('inventory'),
        on: ['OrderCreated'],
        success: ['StockReserved'],
        failure: ['StockReservationFailed'],
        compensation: ['StockReleased'],
        deadlineMs,
      },
      {
        name: 'authorize-payment',
        participant: names.service('payment'),
        on: ['StockReserved'],
        success: ['PaymentAuthorized'],
        failure: ['PaymentFailed'],
        compensation: ['PaymentReleased'],
        deadlineMs,
      },
      {
        name: 'approve-order',
        participant: names.service('order'),
        on: ['PaymentAuthorized'],
        success: ['OrderApproved'],
        deadlineMs,
      },
      {
        name: 'schedule-shipment',
        participant: names.service('shipping'),
        on: ['OrderApproved'],
        success: ['ShipmentScheduled'],
        deadlineMs,
      },
    ],
    outcomes: { completed: ['ShipmentScheduled'], compensated: ['OrderRejected'] },
  });
}
// #endregion
