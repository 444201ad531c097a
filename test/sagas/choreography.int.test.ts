import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { compensationCausationKey, sagaControl, SagaTracker, type SagaView } from '@sagaflow/core';
import { KafkaBus } from '@sagaflow/kafka';
import { MongoAuditLog, MongoSagaViewStore } from '@sagaflow/mongodb';
import { AvroSerde, loadSchemaCatalog } from '@sagaflow/schema-registry';
import { testEnv, uniqueDatabase, uniqueName, waitFor } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '@sagaflow/admin';
import { repoRoot } from '@sagaflow/infra-local';
import { flowSchemaDirs, orderFlow } from '../fixtures/order-flow.js';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { realService } from '../fixtures/real-service.js';

type Flow = ReturnType<typeof orderFlow>;

const stoppers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
});

async function tracker(
  flow: Flow,
  options: { groupId: string; database: string; stuckCheckIntervalMs?: number },
) {
  const client = await new MongoClient(testEnv().mongodbUrl).connect();
  const views = new MongoSagaViewStore(client.db(options.database));
  // The service that carries compensation requests to the participants through its outbox.
  const control = await realService(testEnv(), {
    name: `control-${options.groupId}`,
    database: options.database,
    schemasDir: flowSchemaDirs,
    entities: [sagaControl],
  });
  await control.service.start();
  const bus = new KafkaBus({
    brokers: testEnv().kafkaBrokers,
    clientId: options.groupId,
    sessionTimeoutMs: 6000,
    logLevel: 'nothing',
  });
  const t = new SagaTracker({
    groupId: options.groupId,
    definitions: [flow.saga],
    subscriber: bus,
    serde: new AvroSerde({
      registryUrl: testEnv().schemaRegistryUrl,
      catalog: await loadSchemaCatalog(flowSchemaDirs),
    }),
    views,
    stuckCheckIntervalMs: options.stuckCheckIntervalMs ?? 200,
    publishCompensation: async (request) => {
      await control.service.execute(sagaControl, request.sagaId, 'RequestCompensation', request, {
        sagaId: request.sagaId,
        causationKey: compensationCausationKey(request),
      });
    },
  });
  await bus.ensureTopics(flow.topics.map((topic) => ({ topic, partitions: 3 })));
  await t.start();
  const stop = async () => {
    await t.stop();
    await bus.close();
    await control.service.stop();
    await control.close();
    await client.close();
  };
  stoppers.push(stop);
  return { tracker: t, views, stop };
}

async function participants(
  flow: Flow,
  domain: string,
  which: readonly ('orders' | 'inventory' | 'payment' | 'shipping')[],
) {
  const services = {
    orders: { entities: [flow.order], processors: [flow.orderProcessor] },
    inventory: { entities: [flow.stock], processors: [flow.inventoryProcessor] },
    payment: { entities: [flow.customer], processors: [flow.paymentProcessor] },
    shipping: { entities: [flow.shipment], processors: [flow.shippingProcessor] },
  } as const;
  const started = await Promise.all(
    which.map(async (name) => {
      const built = await realService(testEnv(), {
        name: `${name}-${domain}`,
        database: uniqueDatabase(name),
        schemasDir: flowSchemaDirs,
        ...services[name],
      });
      await built.service.start();
      stoppers.push(async () => {
        await built.service.stop();
        await built.close();
      });
      return [name, built] as const;
    }),
  );
  return Object.fromEntries(started) as Record<
    (typeof which)[number],
    Awaited<ReturnType<typeof realService>>
  >;
}

/**
 * Waits for a saga's view to reach `status` and, when `entries` is given, to hold that many
 * timeline entries: the tracker reads each participant's topic on its own, so the outcome event
 * (on the orders topic) can be recorded before the last compensation (on another topic).
 */
const waitForStatus = (
  views: MongoSagaViewStore,
  sagaId: string,
  status: SagaView['status'],
  timeoutMs = 60_000,
  entries = 0,
) =>
  waitFor(
    async () => {
      const view = await views.view(sagaId);
      return view?.status === status && view.timeline.length >= entries ? view : undefined;
    },
    { timeoutMs, description: `saga ${sagaId} to be ${status} with ${entries} entries or more` },
  );

describe('a three-participant choreography, tracked on the real servers', () => {
  const domain = uniqueDomain();
  const flow = orderFlow(domain);
  let services: Awaited<ReturnType<typeof participants>>;
  let tracked: Awaited<ReturnType<typeof tracker>>;
  const sagas: Record<string, string> = {};

  const place = async (orderId: string, customerId: string, quantity: number) => {
    const result = await services.orders.service.execute(flow.order, orderId, 'Place', {
      customerId,
      items: [{ sku: 'sku-a', quantity, unitPrice: 500 }],
    });
    if (!('sagaId' in result)) throw new Error(`placing ${orderId}: ${result.status}`);
    sagas[orderId] = result.sagaId;
    return result.sagaId;
  };

  beforeAll(async () => {
    tracked = await tracker(flow, {
      groupId: `tracker-${domain}`,
      database: uniqueDatabase('tracker'),
    });
    services = await participants(flow, domain, ['orders', 'inventory', 'payment', 'shipping']);
    await services.inventory.service.execute(flow.stock, 'sku-a', 'Set', { available: 100 });
    await services.payment.service.execute(flow.customer, 'rich', 'SetCredit', {
      creditLimit: 1_000_000,
    });
    await services.payment.service.execute(flow.customer, 'poor', 'SetCredit', { creditLimit: 10 });
  });

  it('completes the happy path, every step done in order', async () => {
    const view = await waitForStatus(
      tracked.views,
      await place('o-1', 'rich', 2),
      'completed',
      60_000,
      5,
    );
    expect(view).toMatchObject({ type: 'order-placement', businessKey: 'o-1' });
    expect(view.steps.map((s) => [s.name, s.status])).toEqual([
      ['reserve-stock', 'done'],
      ['authorize-payment', 'done'],
      ['schedule-shipment', 'done'],
      ['approve-order', 'done'],
    ]);
    expect(view.timeline.map((e) => [e.type, e.participant])).toEqual([
      ['OrderCreated', `orders-${domain}`],
      ['StockReserved', `inventory-${domain}`],
      ['PaymentAuthorized', `payment-${domain}`],
      ['ShipmentScheduled', `shipping-${domain}`],
      ['OrderApproved', `orders-${domain}`],
    ]);
    expect(view.timeline[2]).toMatchObject({
      // customerId is marked sensitive in its schema: the admin never shows it.
      keyFields: { orderId: 'o-1', customerId: '[REDACTED]', amount: 1000 },
    });
  });

  it('compensates the completed steps in reverse order when the last participant refuses', async () => {
    const view = await waitForStatus(
      tracked.views,
      await place('o-4', 'rich', 50),
      'compensated',
      60_000,
      7,
    );
    expect(view.error).toBe('too valuable to ship uninsured');
    expect(view.steps.map((s) => [s.name, s.status])).toEqual([
      ['reserve-stock', 'compensated'],
      ['authorize-payment', 'compensated'],
      ['schedule-shipment', 'failed'],
      ['approve-order', 'pending'],
    ]);
    // Undone last step first: the payment, then the stock, then the order is rejected.
    expect(view.timeline.map((e) => [e.type, e.participant])).toEqual([
      ['OrderCreated', `orders-${domain}`],
      ['StockReserved', `inventory-${domain}`],
      ['PaymentAuthorized', `payment-${domain}`],
      ['ShipmentRefused', `shipping-${domain}`],
      ['PaymentReleased', `payment-${domain}`],
      ['StockReleased', `inventory-${domain}`],
      ['OrderRejected', `orders-${domain}`],
    ]);
    const customer = await services.payment.store.load<{ reserved: number; orders: object }>(
      flow.customer.type,
      'rich',
    );
    expect(customer?.state).toMatchObject({ reserved: 1000, orders: { 'o-1': { amount: 1000 } } });
  });

  it('compensates the steps before a refused payment', async () => {
    const view = await waitForStatus(
      tracked.views,
      await place('o-2', 'poor', 3),
      'compensated',
      60_000,
      5,
    );
    expect(view.error).toBe('credit limit exceeded');
    expect(view.steps.map((s) => s.status)).toEqual([
      'compensated',
      'failed',
      'pending',
      'pending',
    ]);
    expect(view.timeline.map((e) => e.type)).toEqual([
      'OrderCreated',
      'StockReserved',
      'PaymentFailed',
      'StockReleased',
      'OrderRejected',
    ]);
    // The compensations really undid the reservations: only o-1's 2 units stay reserved.
    const stock = await services.inventory.store.load<{
      available: number;
      reserved: Record<string, number>;
    }>(flow.stock.type, 'sku-a');
    expect(stock?.state).toEqual({ available: 98, reserved: { 'o-1': 2 } });
  });

  it('rejects at once when the first participant refuses', async () => {
    const view = await waitForStatus(
      tracked.views,
      await place('o-3', 'rich', 1000),
      'compensated',
    );
    expect(view.error).toBe('not enough stock of sku-a');
    expect(view.steps.map((s) => s.status)).toEqual(['failed', 'pending', 'pending', 'pending']);
  });

  it('answers through the admin API for a completed and a compensated saga', async () => {
    const api = await adminOver(tracked, uniqueDatabase('audit'));
    const answers: Record<string, unknown> = {};
    for (const [orderId, status] of [
      ['o-1', 'completed'],
      ['o-4', 'compensated'],
    ] as const) {
      const response = await api(`/sagas/${sagas[orderId]!}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { status: string; businessKey: string };
      expect(body).toMatchObject({ status, businessKey: orderId });
      answers[status] = body;
    }
    const stats = (await (await api('/sagas/stats')).json()) as {
      types: { counts: Record<string, number> }[];
    };
    expect(stats.types[0]?.counts).toMatchObject({ completed: 1, compensated: 3 });
    // Kept for the record: what an operator sees.
    await mkdir(path.join(repoRoot, 'test-results'), { recursive: true });
    await writeFile(
      path.join(repoRoot, 'test-results', 'admin-sagas.json'),
      `${JSON.stringify(answers, null, 2)}\n`,
    );
  });

  it('rebuilt from the topics, a new tracker arrives at the same views', async () => {
    const rebuilt = await tracker(flow, {
      groupId: `rebuilt-${domain}`,
      database: uniqueDatabase('rebuilt'),
    });
    for (const orderId of ['o-1', 'o-2', 'o-3', 'o-4']) {
      const original = await tracked.views.view(sagas[orderId]!);
      // Events of one saga arrive from three topics in any order: wait for the whole timeline.
      const again = await waitFor(
        async () => {
          const view = await rebuilt.views.view(sagas[orderId]!);
          return view?.timeline.length === original?.timeline.length ? view : undefined;
        },
        { timeoutMs: 30_000, description: `the rebuilt view of ${orderId}` },
      );
      expect(again).toEqual(original);
    }
    const listed = await rebuilt.views.query({ type: 'order-placement', limit: 10 });
    expect(listed.views.map((v) => v.businessKey).sort()).toEqual(['o-1', 'o-2', 'o-3', 'o-4']);
  });
});

/** The admin API over a tracker, on an ephemeral port. */
async function adminOver(t: Awaited<ReturnType<typeof tracker>>, database: string) {
  const client = await new MongoClient(testEnv().mongodbUrl).connect();
  const app = createAdminApp({
    views: t.views,
    audit: new MongoAuditLog(client.db(database)),
    token: 'admin-token',
    requestCompensation: (sagaId, request) => t.tracker.requestCompensation(sagaId, request),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  stoppers.push(async () => {
    await new Promise((resolve) => server.close(resolve));
    await client.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: 'Bearer admin-token',
        'content-type': 'application/json',
        'x-operator': 'test-operator',
      },
    });
}

describe('a missing participant', () => {
  it('makes the saga stuck after its deadline, across a tracker restart, and an operator compensates it', async () => {
    const domain = uniqueDomain();
    const flow = orderFlow(domain, { deadlineMs: 4000 });
    const database = uniqueDatabase('stuck');
    const groupId = `tracker-${domain}`;
    const first = await tracker(flow, { groupId, database });
    // No payment service runs.
    const services = await participants(flow, domain, ['orders', 'inventory']);
    await services.inventory.service.execute(flow.stock, 'sku-a', 'Set', { available: 5 });
    const orderId = uniqueName('o');
    const placed = await services.orders.service.execute(flow.order, orderId, 'Place', {
      customerId: 'nobody',
      items: [{ sku: 'sku-a', quantity: 1, unitPrice: 100 }],
    });
    if (!('sagaId' in placed)) throw new Error('unreachable');
    const running = await waitFor(
      async () => {
        const view = await first.views.view(placed.sagaId);
        return view?.currentStep === 'authorize-payment' ? view : undefined;
      },
      { timeoutMs: 30_000, description: 'the saga to wait for payment' },
    );
    expect(running.status).toBe('running');
    expect(running.deadlineAt).toBeDefined();
    // The tracker goes away before the deadline; its successor finds the deadline in the view.
    await first.stop();
    await waitFor(() => Date.now() > Date.parse(running.deadlineAt!), { timeoutMs: 10_000 });
    const second = await tracker(flow, { groupId, database });
    const stuck = await waitForStatus(second.views, placed.sagaId, 'stuck', 15_000);
    expect(stuck).toMatchObject({
      currentStep: 'authorize-payment',
      deadlineAt: running.deadlineAt,
    });

    // Visible as such through the admin API, and compensated from there.
    const api = await adminOver(second, database);
    const listed = (await (await api('/sagas?status=stuck&type=order-placement')).json()) as {
      sagas: { sagaId: string }[];
    };
    expect(listed.sagas.map((v) => v.sagaId)).toEqual([placed.sagaId]);
    const byKey = (await (await api(`/sagas?q=${orderId}`)).json()) as {
      sagas: { sagaId: string; status: string }[];
    };
    expect(byKey.sagas).toMatchObject([{ sagaId: placed.sagaId, status: 'stuck' }]);
    const compensate = await api(`/sagas/${placed.sagaId}/compensate`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'payment is down' }),
    });
    expect(compensate.status).toBe(202);
    const compensated = await waitForStatus(second.views, placed.sagaId, 'compensated', 30_000, 5);
    expect(compensated.timeline.map((e) => e.type)).toEqual([
      'OrderCreated',
      'StockReserved',
      'SagaCompensationRequested',
      'StockReleased',
      'OrderRejected',
    ]);
    expect(compensated.compensationRequest).toMatchObject({
      by: 'test-operator',
      reason: 'payment is down',
    });
    expect(compensated.steps.map((s) => s.status)).toEqual([
      'compensated',
      'abandoned',
      'pending',
      'pending',
    ]);
    const detail = (await (await api(`/sagas/${placed.sagaId}`)).json()) as { status: string };
    expect(detail.status).toBe('compensated');
    const stock = await services.inventory.store.load<{ available: number }>(
      flow.stock.type,
      'sku-a',
    );
    expect(stock?.state.available).toBe(5);
  });

  it('compensates by itself when the definition says so', async () => {
    const domain = uniqueDomain();
    const flow = orderFlow(domain, { deadlineMs: 3000, onStuck: 'compensate' });
    const t = await tracker(flow, {
      groupId: `tracker-${domain}`,
      database: uniqueDatabase('auto'),
    });
    const services = await participants(flow, domain, ['orders', 'inventory']);
    await services.inventory.service.execute(flow.stock, 'sku-a', 'Set', { available: 5 });
    const placed = await services.orders.service.execute(flow.order, uniqueName('o'), 'Place', {
      customerId: 'nobody',
      items: [{ sku: 'sku-a', quantity: 2, unitPrice: 100 }],
    });
    if (!('sagaId' in placed)) throw new Error('unreachable');
    const view = await waitForStatus(t.views, placed.sagaId, 'compensated', 45_000);
    expect(view.compensationRequest).toMatchObject({ by: `tracker-${domain}` });
    expect(view.compensationRequest?.reason).toMatch(
      /no answer from payment for authorize-payment by /,
    );
    expect(view.timeline.map((e) => e.type)).toContain('SagaCompensationRequested');
  });
});
