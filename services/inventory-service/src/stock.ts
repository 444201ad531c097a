import { defineEntity } from '@sagaflow/core';
import type { SchemaTypes } from '@sagaflow/reference-contracts';

/**
 * The stock of one SKU: what is available, and the holds of orders that reserved it (approved ones
 * included). A refused or released order leaves nothing in it: a hold given back leaves the state,
 * and that each order holds at most once, and never after its release, is kept by the causation
 * keys the inventory processor gives these commands (`hold:<orderId>`, see `reserveOrder`), which
 * the store keeps with the commits (a state of an earlier release, with the orders it closed,
 * sheds them at its next event).
 */
export interface StockState {
  readonly available: number;
  /** Quantities held, by order id. */
  readonly holds: Readonly<Record<string, number>>;
}

/** What is reserved: the held quantities. */
export const reservedOf = (state: StockState) =>
  Object.values(state.holds).reduce((sum, quantity) => sum + quantity, 0);

/** The state's own fields only (a state of an earlier release also kept the orders it closed). */
const current = (state: StockState): StockState => ({
  available: state.available,
  holds: state.holds,
});

/** The state without an order's hold. */
const withoutHold = (state: StockState, orderId: string): StockState => {
  const { [orderId]: _held, ...holds } = state.holds;
  return { ...current(state), holds };
};

export const stockEntity = (type: string) =>
  defineEntity<
    StockState,
    {
      Set: { available: number };
      Hold: { orderId: string; quantity: number };
      /**
       * Gives an order's hold back, or, when the order holds nothing here, records that it is
       * released (sent with the hold's causation key, that record refuses a hold that comes later).
       */
      Unhold: { orderId: string };
    },
    Pick<SchemaTypes, 'StockSet' | 'StockItemReserved' | 'StockItemShort' | 'StockItemReleased'>
  >({
    type,
    initialState: () => ({ available: 0, holds: {} }),
    commands: {
      Set: (_state, { available }, { entityId }) => [
        { type: 'StockSet', payload: { sku: entityId, available } },
      ],
      Hold: (state, { orderId, quantity }, { entityId }) =>
        state.holds[orderId] !== undefined
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
      Unhold: (state, { orderId }, { entityId }) => [
        {
          type: 'StockItemReleased',
          payload: { sku: entityId, orderId, quantity: state.holds[orderId] ?? 0 },
        },
      ],
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'StockSet':
          return { ...current(state), available: event.payload.available };
        case 'StockItemReserved': {
          const { orderId, quantity } = event.payload;
          const rest = current(state);
          return {
            ...rest,
            available: rest.available - quantity,
            holds: { ...rest.holds, [orderId]: quantity },
          };
        }
        case 'StockItemShort':
          return current(state);
        case 'StockItemReleased': {
          const held = state.holds[event.payload.orderId] ?? 0;
          const rest = withoutHold(state, event.payload.orderId);
          return { ...rest, available: rest.available + held };
        }
      }
    },
  });
export type StockEntity = ReturnType<typeof stockEntity>;

/** Why an order holds nothing at a SKU, from the events of the command that decided it. */
export function notHeldReason(
  sku: string,
  events: readonly { readonly type: string; readonly payload: unknown }[],
): string | undefined {
  for (const { type, payload } of events) {
    if (type === 'StockItemShort') {
      const { requested, available } = payload as { requested: number; available: number };
      return `not enough stock of ${sku}: ${requested} asked, ${available} available`;
    }
    if (type === 'StockItemReleased') return `the reservation of ${sku} was released`;
  }
  return undefined;
}
