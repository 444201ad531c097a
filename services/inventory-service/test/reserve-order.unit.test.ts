import { EntityService, type ProcessorContext } from '@sagaflow/core';
import { MemoryEntityStore } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { reserveOrder, unholdAll } from '../src/reserve-order.js';
import { reservationEntity } from '../src/reservation.js';
import { reservedOf, stockEntity } from '../src/stock.js';

it('a request redelivered after the process died between refusing and giving the holds back gives them back', async () => {
  const stock = stockEntity('test.stock');
  const reservation = reservationEntity('test.reservation');
  const entities = new EntityService({ store: new MemoryEntityStore(), service: 'inventory' });
  await entities.execute(stock, 'bolt', 'Set', { available: 10 });
  await entities.execute(stock, 'nut', 'Set', { available: 0 });
  const order = {
    orderId: 'o-1',
    customerId: 'c-1',
    total: 30,
    items: [
      { sku: 'bolt', quantity: 2, unitPrice: 10 },
      { sku: 'nut', quantity: 1, unitPrice: 10 },
    ],
  };
  // The first delivery: bolts held, nuts short, the reservation refused, then the process dies
  // before it gives the bolts back.
  const dying: ProcessorContext = {
    load: (definition, entityId) => entities.load(definition, entityId),
    execute: (definition, entityId, command, payload, options) => {
      if (command === 'Unhold') return Promise.reject(new Error('killed'));
      return entities.execute(definition, entityId, command, payload, options);
    },
  };
  await expect(reserveOrder({ stock, reservation }, dying, order)).rejects.toThrow('killed');
  expect((await entities.load(reservation, 'o-1')).state.status).toBe('FAILED');
  expect(reservedOf((await entities.load(stock, 'bolt')).state)).toBe(2);
  // The message comes again.
  const ctx: ProcessorContext = {
    load: (definition, entityId) => entities.load(definition, entityId),
    execute: (definition, entityId, command, payload, options) =>
      entities.execute(definition, entityId, command, payload, options),
  };
  await reserveOrder({ stock, reservation }, ctx, order);
  expect((await entities.load(reservation, 'o-1')).state.status).toBe('FAILED');
  const bolt = (await entities.load(stock, 'bolt')).state;
  expect(reservedOf(bolt)).toBe(0);
  expect(bolt.available).toBe(10);
});

it('holds an order once per SKU, also after its hold left the state: settled, given back, or released before it came', async () => {
  const stock = stockEntity('test.stock');
  const reservation = reservationEntity('test.reservation');
  const entities = new EntityService({ store: new MemoryEntityStore(), service: 'inventory' });
  // As the processor keys them: `<processor>:<idempotency key>`, else a key of each call's own (a
  // call of another event).
  const contextOf = (view?: 'stale'): ProcessorContext => ({
    load: async (definition, entityId) =>
      view === 'stale' && definition.type === reservation.type
        ? { state: definition.initialState(), version: 0 }
        : entities.load(definition, entityId),
    execute: (definition, entityId, command, payload, options) =>
      entities.execute(definition, entityId, command, payload, {
        ...(options?.idempotencyKey === undefined
          ? {}
          : { causationKey: `inventory:${options.idempotencyKey}` }),
      }),
  });
  const ctx = contextOf();
  /** A run that read the reservation before it was decided, and goes on only now. */
  const late = contextOf('stale');
  await entities.execute(stock, 'bolt', 'Set', { available: 10 });
  const order = (orderId: string, quantity: number) => ({
    orderId,
    customerId: 'c-1',
    total: quantity * 10,
    items: [{ sku: 'bolt', quantity, unitPrice: 10 }],
  });
  const bolt = async () => (await entities.load(stock, 'bolt')).state;

  // Approved and settled: the hold leaves the state; a late run holds nothing more.
  await reserveOrder({ stock, reservation }, ctx, order('o-1', 2));
  await entities.execute(stock, 'bolt', 'Settle', { orderIds: ['o-1'] });
  expect(await bolt()).toEqual({ available: 8, holds: {}, settled: 2 });
  await reserveOrder({ stock, reservation }, late, order('o-1', 2));
  expect(await bolt()).toEqual({ available: 8, holds: {}, settled: 2 });

  // Released before its reservation came: the late reservation is refused, holding nothing.
  await entities.execute(reservation, 'o-2', 'Release', { orderId: 'o-2' });
  await unholdAll(stock, ctx, 'o-2', ['bolt']);
  await reserveOrder({ stock, reservation }, late, order('o-2', 3));
  expect((await entities.load(reservation, 'o-2')).state.status).toBe('RELEASED');
  expect(await bolt()).toEqual({ available: 8, holds: {}, settled: 2 });

  // Held, then released (given back once, however often the release runs); a late run does
  // not hold again.
  await reserveOrder({ stock, reservation }, ctx, order('o-3', 3));
  expect(await bolt()).toEqual({ available: 5, holds: { 'o-3': 3 }, settled: 2 });
  await entities.execute(reservation, 'o-3', 'Release', { orderId: 'o-3' });
  await unholdAll(stock, ctx, 'o-3', ['bolt']);
  await unholdAll(stock, ctx, 'o-3', ['bolt']);
  await reserveOrder({ stock, reservation }, late, order('o-3', 3));
  expect(await bolt()).toEqual({ available: 8, holds: {}, settled: 2 });
});
