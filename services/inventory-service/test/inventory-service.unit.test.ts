import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import type { EntityServiceProcess } from '@sagaflow/runtime';
import { startServiceInMemory, waitFor, type ServiceInMemory } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInventoryService } from '../src/inventory-service.js';
import { reservationEntity } from '../src/reservation.js';

let running: ServiceInMemory<EntityServiceProcess>;

beforeAll(async () => {
  running = await startServiceInMemory(buildInventoryService, { schemaDirs: referenceSchemaDirs });
});
afterAll(() => running.stop());

const setStock = (sku: string, available: number) =>
  fetch(`${running.url}/stock/${sku}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ available }),
  });
const stockOf = async (sku: string) =>
  (await (await fetch(`${running.url}/stock/${sku}`)).json()) as {
    available: number;
    reserved: number;
  };

describe('inventory service (in memory)', () => {
  it('reserves every line of a requested reservation, or none when one SKU is short', async () => {
    await setStock('bolt', 10);
    await setStock('nut', 1);
    const reservation = reservationEntity('inventory.reservation');
    const commands = running.service.sagaflow.commands;
    const request = (orderId: string, nuts: number) =>
      commands.execute(reservation, orderId, 'Request', {
        orderId,
        customerId: 'c-1',
        total: 100,
        items: [
          { sku: 'bolt', quantity: 4, unitPrice: 10 },
          { sku: 'nut', quantity: nuts, unitPrice: 10 },
        ],
      });
    await request('o-ok', 1);
    await request('o-short', 5);
    const decided = async (orderId: string) =>
      (await commands.load(reservation, orderId)).state.status;
    await waitFor(async () => (await decided('o-ok')) === 'RESERVED', {
      timeoutMs: 10_000,
      description: 'o-ok reserved',
    });
    await waitFor(async () => (await decided('o-short')) === 'FAILED', {
      timeoutMs: 10_000,
      description: 'o-short refused',
    });
    // The refused order holds nothing: its bolts were given back.
    await waitFor(async () => (await stockOf('bolt')).reserved === 4, {
      timeoutMs: 10_000,
      description: 'only o-ok holds bolts',
    });
    expect(await stockOf('bolt')).toMatchObject({ available: 6, reserved: 4 });
    expect(await stockOf('nut')).toMatchObject({ available: 0, reserved: 1 });
    // A negative quantity (never sent by the order service) would raise the stock: refused.
    await request('o-negative', -1000);
    await waitFor(async () => (await decided('o-negative')) === 'FAILED', {
      timeoutMs: 10_000,
      description: 'o-negative refused',
    });
    await waitFor(async () => (await stockOf('bolt')).reserved === 4, {
      timeoutMs: 10_000,
      description: 'o-negative holds no bolts',
    });
    expect(await stockOf('nut')).toMatchObject({ available: 0, reserved: 1 });
  });

  it('refuses bad input with 400 naming the field, and answers 404 for unknown stock', async () => {
    const bad = await setStock('bolt', 1.5);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('available');
    expect((await fetch(`${running.url}/stock/none`)).status).toBe(404);
  });
});
