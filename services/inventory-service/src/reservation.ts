import { defineEntity } from '@sagaflow/core';
import type { OrderItem, SchemaTypes } from '@sagaflow/reference-contracts';

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
