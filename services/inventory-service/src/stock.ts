import { defineEntity } from '@sagaflow/core';
import type { SchemaTypes } from '@sagaflow/reference-contracts';

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
          : // A quantity below 1 (never sent by the order service, whose input is checked) holds
            // nothing: taking it would raise the stock.
            quantity < 1 || quantity > state.available
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
