import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import {
  listen,
  loadProcessConfig,
  memoryAdapters,
  type EntityServiceProcess,
  type RunningService,
} from '@sagaflow/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipmentEntity } from '../src/shipment.js';
import { buildShippingService } from '../src/shipping-service.js';

let running: RunningService<EntityServiceProcess>;
let base: string;

beforeAll(async () => {
  const config = loadProcessConfig({ defaultPort: 0, env: {} });
  running = await listen(
    await buildShippingService(config, memoryAdapters({ schemaDirs: referenceSchemaDirs })),
    config,
  );
  base = `http://127.0.0.1:${running.port}`;
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
    const list = await fetch(`${base}/shipments?orderId=o-1`);
    expect(await list.json()).toEqual([
      { shipmentId: 'shp-o-1', orderId: 'o-1', status: 'SCHEDULED' },
    ]);
    expect(await (await fetch(`${base}/shipments?orderId=o-2`)).json()).toEqual([]);
  });

  it('refuses a query without an order id, naming it', async () => {
    const bad = await fetch(`${base}/shipments`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('orderId');
  });
});
