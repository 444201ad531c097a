import { defineEntity } from '@sagaflow/core';
import type { OrderItem, SchemaTypes } from './types.js';

/**
 * The stock of one SKU. Every operation is idempotent per order and final once an order was
 * refused or released here (`closed`): whatever order the inventory processor's runs for one
 * order interleave in, they end on the same holds.
 */
export interface StockState {
  readonly available: number;
  /** Quantities held, by order id. */
  readonly holds: Readonly<Record<string, number>>;
  /** Orders that were refused or released here, with why: they hold nothing, now or later. */
  readonly closed: Readonly<Record<string, string>>;
}

export const reservedOf = (state: StockState) =>
  Object.values(state.holds).reduce((sum, quantity) => sum + quantity, 0);

export const stockEntity = (type: string) =>
  defineEntity<
    StockState,
    {
      Set: { available: number };
      Hold: { orderId: string; quantity: number };
      Unhold: { orderId: string };
    },
    Pick<SchemaTypes, 'StockSet' | 'StockItemReserved' | 'StockItemShort' | 'StockItemReleased'>
  >({
    type,
    initialState: () => ({ available: 0, holds: {}, closed: {} }),
    commands: {
      Set: (_state, { available }, { entityId }) => [
        { type: 'StockSet', payload: { sku: entityId, available } },
      ],
      Hold: (state, { orderId, quantity }, { entityId }) =>
        state.holds[orderId] !== undefined || state.closed[orderId] !== undefined
          ? []
          : quantity > state.available
            ? [
                {
                  type: 'StockItemShort',
                  payload: {
                    sku: entityId,
                    orderId,
                    requested: quantity,
                    available: state.available,
                  },
                },
              ]
            : [{ type: 'StockItemReserved', payload: { sku: entityId, orderId, quantity } }],
      Unhold: (state, { orderId }, { entityId }) =>
        state.closed[orderId] !== undefined
          ? []
          : [
              {
                type: 'StockItemReleased',
                payload: { sku: entityId, orderId, quantity: state.holds[orderId] ?? 0 },
              },
            ],
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'StockSet':
          return { ...state, available: event.payload.available };
        case 'StockItemReserved': {
          const { orderId, quantity } = event.payload;
          return {
            ...state,
            available: state.available - quantity,
            holds: { ...state.holds, [orderId]: quantity },
          };
        }
        case 'StockItemShort': {
          const { sku, orderId, requested, available } = event.payload;
          const reason = `not enough stock of ${sku}: ${requested} asked, ${available} available`;
          return { ...state, closed: { ...state.closed, [orderId]: reason } };
        }
        case 'StockItemReleased': {
          const { [event.payload.orderId]: held = 0, ...holds } = state.holds;
          return {
            available: state.available + held,
            holds,
            closed: {
              ...state.closed,
              [event.payload.orderId]: `the reservation of ${event.payload.sku} was released`,
            },
          };
        }
      }
    },
  });
export type StockEntity = ReturnType<typeof stockEntity>;

/** The inventory's record of one order's reservation: the decision the other services see. */
export interface ReservationState {
  readonly status: 'NONE' | 'REQUESTED' | 'RESERVED' | 'FAILED' | 'RELEASED';
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly total: number;
  readonly reason?: string;
}

type ReservationRequest = SchemaTypes['ReserveStock'];

export const reservationEntity = (type: string) =>
  defineEntity<
    ReservationState,
    {
      /** `ReserveStock` from a command topic: the inventory processor reserves and answers. */
      Request: ReservationRequest;
      Confirm: ReservationRequest;
      Refuse: { orderId: string; reason: string };
      /** `ReleaseStock`, or a compensation in the choreography. */
      Release: { orderId: string; reason?: string };
    },
    Pick<
      SchemaTypes,
      'StockReservationRequested' | 'StockReserved' | 'StockReservationFailed' | 'StockReleased'
    >
  >({
    type,
    initialState: () => ({ status: 'NONE', customerId: '', items: [], total: 0 }),
    commands: {
      // A repeated request (a retry) is answered again: the processor repeats the decision.
      Request: (state, request) =>
        state.status === 'RELEASED'
          ? []
          : [{ type: 'StockReservationRequested', payload: request }],
      // Confirming or refusing again repeats the decision, so that each request gets an answer.
      Confirm: (state, request) =>
        state.status === 'FAILED' || state.status === 'RELEASED'
          ? []
          : [{ type: 'StockReserved', payload: request }],
      Refuse: (state, { orderId, reason }) =>
        state.status === 'RESERVED' || state.status === 'RELEASED'
          ? []
          : [
              {
                type: 'StockReservationFailed',
                payload: { orderId, reason: state.reason ?? reason },
              },
            ],
      Release: (state, { orderId, reason }) =>
        state.status === 'RELEASED' || state.status === 'FAILED'
          ? []
          : [{ type: 'StockReleased', payload: { orderId, reason: reason ?? '' } }],
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'StockReservationRequested':
        case 'StockReserved': {
          const { customerId, items, total } = event.payload;
          return {
            ...state,
            status:
              event.type === 'StockReserved'
                ? 'RESERVED'
                : state.status === 'NONE'
                  ? 'REQUESTED'
                  : state.status,
            customerId,
            items,
            total,
          };
        }
        case 'StockReservationFailed':
          return { ...state, status: 'FAILED', reason: event.payload.reason };
        case 'StockReleased':
          return { ...state, status: 'RELEASED', reason: event.payload.reason };
      }
    },
  });
export type ReservationEntity = ReturnType<typeof reservationEntity>;
