import { defineEntity, StateChange } from '@sagaflow/core';
import type { SchemaTypes } from '@sagaflow/reference-contracts';

/**
 * The stock of one SKU. Its state holds only what is still open: the holds of orders not decided
 * yet. An order's hold leaves it when the hold is given back (the order refused or cancelled) or
 * settled (the order approved: the quantity stays taken; settled in batches, see
 * `inventorySettler`). That each order holds at most once, and never after its release, is kept by
 * the causation keys the inventory processor gives these commands (`hold:<orderId>`, see
 * `reserveOrder`), which the store keeps with the commits.
 */
export interface StockState {
  readonly available: number;
  /** Quantities held, by order id: orders not settled yet. */
  readonly holds: Readonly<Record<string, number>>;
  /** The quantities of settled orders, taken for good. */
  readonly settled: number;
}

/** What is reserved: the held quantities and the settled ones. */
export const reservedOf = (state: StockState) =>
  Object.values(state.holds).reduce((sum, quantity) => sum + quantity, state.settled ?? 0);

/**
 * The state's own fields only: a state of an earlier release (with the orders it closed, and
 * without `settled`) sheds what it no longer keeps at its next event.
 */
const current = (state: StockState): StockState => ({
  available: state.available,
  holds: state.holds,
  settled: state.settled ?? 0,
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
      /** Takes the holds of approved orders for good (orders that hold nothing here are skipped). */
      Settle: { orderIds: readonly string[] };
    },
    Pick<SchemaTypes, 'StockSet' | 'StockItemReserved' | 'StockItemShort' | 'StockItemReleased'>
  >({
    type,
    initialState: () => ({ available: 0, holds: {}, settled: 0 }),
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
      // A silent change (a commit without events: nothing is published): the holds leave the
      // state, their quantities stay taken.
      Settle: (state, { orderIds }) => {
        const settling = new Set(orderIds);
        const open = Object.entries(state.holds);
        const holds = Object.fromEntries(open.filter(([orderId]) => !settling.has(orderId)));
        if (Object.keys(holds).length === open.length) return [];
        const taken = open.reduce(
          (sum, [id, quantity]) => sum + (settling.has(id) ? quantity : 0),
          0,
        );
        const rest = current(state);
        return new StateChange({ ...rest, holds, settled: rest.settled + taken }, []);
      },
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
