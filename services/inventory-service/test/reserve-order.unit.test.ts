import { EntityService, type ProcessorContext } from '@sagaflow/core';
import { MemoryEntityStore } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { reserveOrder } from '../src/reserve-order.js';
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
