import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import type { EntityServiceProcess } from '@sagaflow/runtime';
import { startServiceInMemory, type ServiceInMemory } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipmentEntity } from '../src/shipment.js';
import { buildShippingService } from '../src/shipping-service.js';

let running: ServiceInMemory<EntityServiceProcess>;

beforeAll(async () => {
  running = await startServiceInMemory(buildShippingService, { schemaDirs: referenceSchemaDirs });
});
afterAll(() => running.stop());

describe('shipping service (in memory)', () => {
  it('schedules one shipment per order, however often asked, and lists it by order id', async () => {
    const shipment = shipmentEntity('shipping.shipment');
    const commands = running.service.sagaflow.commands;
    const first = await commands.execute(shipment, 'o-1', 'Schedule', { orderId: 'o-1' });
    expect(first.status).toBe('committed');
    expect((await commands.execute(shipment, 'o-1', 'Schedule', { orderId: 'o-1' })).status).toBe(
      'unchanged',
    );
    const list = await fetch(`${running.url}/shipments?orderId=o-1`);
    expect(await list.json()).toEqual([
      { shipmentId: 'shp-o-1', orderId: 'o-1', status: 'SCHEDULED' },
    ]);
    expect(await (await fetch(`${running.url}/shipments?orderId=o-2`)).json()).toEqual([]);
  });

  it('refuses a query without an order id, naming it', async () => {
    const bad = await fetch(`${running.url}/shipments`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('orderId');
  });
});
