import { randomBytes } from 'node:crypto';
import {
  checkInvariants,
  placeAll,
  referenceNames,
  waitUntilTerminal,
  type NewOrder,
  type OrderView,
} from '@sagaflow/reference';
import { runSagaflowBinary } from '@sagaflow/cli';
import { repoRoot } from '@sagaflow/infra-local';
import { testEnv, waitFor } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startReferenceProcesses,
  type ReferenceProcesses,
} from '../fixtures/reference-processes.js';

let system: ReferenceProcesses;
/** How long a large order waits for approval here (the default is a day). */
const APPROVAL_TIMEOUT_MS = 8000;
beforeAll(async () => {
  system = await startReferenceProcesses(testEnv(), {
    env: { APPROVAL_TIMEOUT_MS: String(APPROVAL_TIMEOUT_MS) },
  });
}, 180_000);
afterAll(async () => {
  await system?.stop();
});

const modes = ['choreography', 'orchestration'] as const;
/** Names no other test of this file uses. */
const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function settled(orderId: string, timeoutMs = 60_000): Promise<OrderView> {
  return waitFor(
    async () => {
      const order = await system.client.order(orderId);
      return order.status === 'PENDING' ? undefined : order;
    },
    { timeoutMs, intervalMs: 100, description: `order ${orderId} to settle` },
  );
}

async function sagaView(sagaId: string, status: string) {
  return waitFor(
    async () => {
      const response = await system.admin(`/sagas/${sagaId}`);
      if (!response.ok) return undefined;
      const view = (await response.json()) as {
        status: string;
        type: string;
        steps: { name: string; status: string }[];
      };
      return view.status === status ? view : undefined;
    },
    {
      timeoutMs: 30_000,
      intervalMs: 200,
      description: `saga ${sagaId} to be ${status} in the admin`,
    },
  );
}

describe.each(modes)('an order placed in %s mode', (mode) => {
  it('is approved when stock and credit suffice: stock and credit held, one shipment, the saga completed', async () => {
    const sku = fresh('sku');
    const customer = fresh('cust');
    await system.client.setStock(sku, 10);
    await system.client.setCredit(customer, 10_000);
    const placed = await system.client.placeOrder({
      customerId: customer,
      items: [{ sku, quantity: 3, unitPrice: 1_000 }],
      mode,
    });
    expect(placed.status).toBe(202);
    const order = await settled(placed.orderId);
    expect(order).toMatchObject({ status: 'APPROVED', total: 3_000, sagaId: placed.sagaId, mode });
    expect(await system.client.stock(sku)).toEqual({ sku, available: 7, reserved: 3 });
    expect(await system.client.customer(customer)).toEqual({
      customerId: customer,
      creditLimit: 10_000,
      creditReserved: 3_000,
    });
    const view = await sagaView(placed.sagaId, 'completed');
    const done = 'done';
    expect(await system.client.shipments(placed.orderId)).toHaveLength(1);
    expect(view.type).toBe(mode === 'choreography' ? 'order-placement' : 'order-fulfillment');
    expect(view.steps.map((s) => [s.name, s.status])).toEqual([
      ['reserve-stock', done],
      ['authorize-payment', done],
      // A small order does not wait for approval.
      ...(mode === 'orchestration'
        ? [
            ['request-approval', 'skipped'],
            ['await-approval', 'skipped'],
          ]
        : []),
      ['approve-order', done],
      ['schedule-shipment', done],
    ]);
  });

  it('is rejected at once when a SKU lacks stock, holding nothing of any SKU', async () => {
    const [plenty, scarce] = [fresh('sku'), fresh('sku')];
    const customer = fresh('cust');
    await system.client.setStock(plenty, 10);
    await system.client.setStock(scarce, 1);
    await system.client.setCredit(customer, 100_000);
    const placed = await system.client.placeOrder({
      customerId: customer,
      items: [
        { sku: plenty, quantity: 2, unitPrice: 100 },
        { sku: scarce, quantity: 2, unitPrice: 100 },
      ],
      mode,
    });
    const order = await settled(placed.orderId);
    expect(order.status).toBe('REJECTED');
    expect(order.rejectionReason).toMatch(
      new RegExp(`not enough stock of ${scarce}: 2 asked, 1 available`),
    );
    await waitFor(async () => (await system.client.stock(plenty)).available === 10, {
      timeoutMs: 30_000,
      description: `the hold on ${plenty} to be undone`,
    });
    expect(await system.client.stock(plenty)).toEqual({ sku: plenty, available: 10, reserved: 0 });
    expect(await system.client.stock(scarce)).toEqual({ sku: scarce, available: 1, reserved: 0 });
    expect((await system.client.customer(customer)).creditReserved).toBe(0);
    expect(await system.client.shipments(placed.orderId)).toEqual([]);
    await sagaView(placed.sagaId, 'compensated');
  });

  it.each([
    [
      'the credit limit is exceeded',
      'limited',
      /credit limit exceeded: 5000 asked, 4000 of 4000 left/,
    ],
    ['the customer is unknown', 'unknown', /unknown customer/],
  ])('is rejected when %s, and its reserved stock is released', async (_case, kind, reason) => {
    const sku = fresh('sku');
    const customer = fresh('cust');
    await system.client.setStock(sku, 10);
    if (kind === 'limited') await system.client.setCredit(customer, 4_000);
    const placed = await system.client.placeOrder({
      customerId: customer,
      items: [{ sku, quantity: 5, unitPrice: 1_000 }],
      mode,
    });
    const order = await settled(placed.orderId);
    expect(order.status).toBe('REJECTED');
    expect(order.rejectionReason).toMatch(reason);
    await waitFor(async () => (await system.client.stock(sku)).available === 10, {
      timeoutMs: 30_000,
      description: `the stock of ${sku} to be released`,
    });
    expect(await system.client.stock(sku)).toEqual({ sku, available: 10, reserved: 0 });
    expect(await system.client.shipments(placed.orderId)).toEqual([]);
    const view = await sagaView(placed.sagaId, 'compensated');
    expect(view.steps.find((s) => s.name === 'reserve-stock')?.status).toBe('compensated');
  });

  it('is created once per Idempotency-Key: the same key again answers the same ids', async () => {
    const sku = fresh('sku');
    const customer = fresh('cust');
    await system.client.setStock(sku, 10);
    await system.client.setCredit(customer, 10_000);
    const order: NewOrder = {
      customerId: customer,
      items: [{ sku, quantity: 1, unitPrice: 10 }],
      mode,
    };
    const key = fresh('key');
    const first = await system.client.placeOrder(order, key);
    const again = await system.client.placeOrder(order, key);
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.orderId).toBe(first.orderId);
    expect(again.sagaId).toBe(first.sagaId);
    // The same key with another order is refused: it would answer with an order not asked for.
    await expect(
      system.client.placeOrder({ ...order, items: [{ sku, quantity: 9, unitPrice: 10 }] }, key),
    ).rejects.toMatchObject({ status: 422 });
    expect((await settled(first.orderId)).status).toBe('APPROVED');
    expect(await system.client.stock(sku)).toEqual({ sku, available: 9, reserved: 1 });
  });
});

describe('a large orchestrated order (at least APPROVAL_THRESHOLD, 1000000 cents)', () => {
  /** Stock and credit of its own, and an order of one 1,000,000-cent item placed. */
  async function placeLarge() {
    const sku = fresh('piano');
    const customer = fresh('patron');
    await system.client.setStock(sku, 1);
    await system.client.setCredit(customer, 1_000_000);
    const placed = await system.client.placeOrder({
      customerId: customer,
      items: [{ sku, quantity: 1, unitPrice: 1_000_000 }],
      mode: 'orchestration',
    });
    return { sku, customer, ...placed };
  }
  const reach = (orderId: string, status: OrderView['status'], timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const order = await system.client.order(orderId);
        return order.status === status ? order : undefined;
      },
      { timeoutMs, intervalMs: 100, description: `order ${orderId} ${status}` },
    );

  it('waits for approval with its stock and credit held; approved, it ships; a second decision is refused', async () => {
    const { sku, customer, orderId } = await placeLarge();
    await reach(orderId, 'AWAITING_APPROVAL');
    expect(await system.client.stock(sku)).toEqual({ sku, available: 0, reserved: 1 });
    expect((await system.client.customer(customer)).creditReserved).toBe(1_000_000);
    expect(await system.client.decideApproval(orderId, { approved: true, by: 'Ann Smith' })).toBe(
      202,
    );
    expect(await reach(orderId, 'APPROVED')).toMatchObject({
      approval: { approved: true, by: 'Ann Smith' },
    });
    await waitFor(async () => (await system.client.shipments(orderId)).length === 1, {
      timeoutMs: 30_000,
      description: 'the order shipped',
    });
    await expect(
      system.client.decideApproval(orderId, { approved: false, by: 'Bob' }),
    ).rejects.toMatchObject({ status: 409 });
  });

  it('is rejected when nobody decides in time (APPROVAL_TIMEOUT_MS): approval timed out, its stock and credit released', async () => {
    const { sku, customer, orderId } = await placeLarge();
    const waiting = Date.now();
    await reach(orderId, 'AWAITING_APPROVAL');
    const rejected = await reach(orderId, 'REJECTED');
    expect(rejected.rejectionReason).toBe('approval timed out');
    // Not before its time: the wait began once the stock and credit were held.
    expect(Date.now() - waiting).toBeGreaterThanOrEqual(APPROVAL_TIMEOUT_MS - 1000);
    await waitFor(async () => (await system.client.stock(sku)).available === 1, {
      timeoutMs: 30_000,
      description: 'the stock released',
    });
    await waitFor(async () => (await system.client.customer(customer)).creditReserved === 0, {
      timeoutMs: 30_000,
      description: 'the credit released',
    });
    expect(await system.client.shipments(orderId)).toEqual([]);
    await expect(
      system.client.decideApproval(orderId, { approved: true, by: 'Ann' }),
    ).rejects.toMatchObject({ status: 409 });
  });
});

describe("the orchestrator's customer-credit view", () => {
  it('is read by the first step while the payment service is down; the order is approved once it is back', async () => {
    const sku = fresh('sku');
    const customer = fresh('cust');
    await system.client.setStock(sku, 10);
    await system.client.setCredit(customer, 10_000);
    // The view has every payment event there is, as the admin tells (GET /lag).
    await waitFor(
      async () => {
        const response = await system.admin('/lag');
        const { readers } = (await response.json()) as {
          readers: { name: string; kind: string; lag: number }[];
        };
        return readers.find((r) => r.kind === 'view' && r.name === 'customer-credit')?.lag === 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'the customer-credit view caught up' },
    );
    await system.supervisor.stop('payment');
    try {
      const placed = await system.client.placeOrder({
        customerId: customer,
        items: [{ sku, quantity: 2, unitPrice: 1_500 }],
        mode: 'orchestration',
      });
      // The first step read the credit (the orchestrator's own view) and reserved the stock.
      await waitFor(async () => (await system.client.stock(sku)).reserved === 2, {
        timeoutMs: 30_000,
        description: 'the stock reserved with the payment service down',
      });
      const response = await fetch(`${system.urls.orchestrator}/workflows/${placed.sagaId}`, {
        headers: { authorization: `Bearer ${system.adminToken}` },
      });
      const workflow = (await response.json()) as {
        views: Record<string, { value: unknown }>;
      };
      expect(workflow.views['reserve-stock']?.value).toEqual({
        customerId: customer,
        known: true,
        creditLimit: 10_000,
        creditReserved: 0,
      });
      expect((await system.client.order(placed.orderId)).status).toBe('PENDING');
      system.supervisor.start('payment');
      await waitFor(async () => (await system.client.order(placed.orderId)).status === 'APPROVED', {
        timeoutMs: 90_000,
        intervalMs: 200,
        description: 'approved once payment is back',
      });
      expect((await system.client.customer(customer)).creditReserved).toBe(3_000);
    } finally {
      system.supervisor.start('payment');
      await waitFor(() => system.client.ready([system.urls.payment]), {
        timeoutMs: 90_000,
        description: 'the payment service ready again',
      });
    }
  });
});

describe('the HTTP contract', () => {
  const call = async (
    service: 'order' | 'inventory' | 'payment' | 'shipping',
    path: string,
    init: RequestInit = {},
  ) => {
    const response = await fetch(`${system.client.urls[service]}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { field?: string; message: string } },
    };
  };
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    call('order', '/orders', { method: 'POST', body: JSON.stringify(body), headers });

  it('answers 400 naming the field for bad input, and 404 for unknown ids', async () => {
    const good = {
      customerId: 'c',
      items: [{ sku: 's', quantity: 1, unitPrice: 1 }],
      mode: 'choreography',
    };
    const cases: [unknown, string][] = [
      [{ ...good, customerId: '' }, 'customerId'],
      [{ ...good, items: [] }, 'items'],
      [{ ...good, items: [{ sku: 's', quantity: 0, unitPrice: 1 }] }, 'items.0.quantity'],
      [{ ...good, items: [{ sku: 's', quantity: 1, unitPrice: -5 }] }, 'items.0.unitPrice'],
      [{ ...good, items: [{ sku: 's', quantity: 1.5, unitPrice: 1 }] }, 'items.0.quantity'],
      [{ ...good, mode: 'telepathy' }, 'mode'],
      [{ ...good, colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const answer = await post(body);
      expect([answer.status, answer.body.error?.field], JSON.stringify(body)).toEqual([400, field]);
    }
    expect((await post(good, { 'idempotency-key': 'with space' })).body.error?.field).toBe(
      'Idempotency-Key',
    );
    const notJson = await call('order', '/orders', { method: 'POST', body: '{"customerId":' });
    expect([notJson.status, notJson.body.error?.field]).toEqual([400, 'body']);
    const badStock = await call('inventory', '/stock/s1', {
      method: 'PUT',
      body: JSON.stringify({ available: -1 }),
    });
    expect([badStock.status, badStock.body.error?.field]).toEqual([400, 'available']);
    const badCredit = await call('payment', '/customers/c1', {
      method: 'PUT',
      body: JSON.stringify({ creditLimit: 'lots' }),
    });
    expect([badCredit.status, badCredit.body.error?.field]).toEqual([400, 'creditLimit']);
    expect((await call('shipping', '/shipments')).body.error?.field).toBe('orderId');

    expect((await call('order', `/orders/${fresh('ord')}`)).status).toBe(404);
    expect((await call('inventory', `/stock/${fresh('sku')}`)).status).toBe(404);
    expect((await call('payment', `/customers/${fresh('cust')}`)).status).toBe(404);
    expect(await system.client.shipments(fresh('ord'))).toEqual([]);
  });

  it('serves health, readiness and Prometheus metrics on every service', async () => {
    for (const url of Object.values(system.client.urls)) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      // The admin's figures need its token, like the rest of its API.
      const metrics = await fetch(`${url}/metrics`, {
        headers: { authorization: `Bearer ${system.adminToken}` },
      });
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toMatch(/process_resident_memory_bytes/);
      // Every service reports its outbox and its consumer groups' lag.
      expect(text).toMatch(/^sagaflow_outbox_pending\{/m);
      expect(text).toMatch(/^sagaflow_consumer_lag\{/m);
    }
  });
});

describe('the sagaflow CLI against the running system', () => {
  const env = () => ({
    SAGAFLOW_ADMIN_URL: system.client.urls.admin,
    ADMIN_TOKEN: system.adminToken,
    KAFKA_BROKERS: testEnv().kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: testEnv().schemaRegistryUrl,
  });

  it('lists and shows a completed saga, describes its topics with lag, and checks the schemas', async () => {
    const sku = fresh('sku');
    const customer = fresh('cust');
    await system.client.setStock(sku, 5);
    await system.client.setCredit(customer, 1_000);
    const placed = await system.client.placeOrder({
      customerId: customer,
      items: [{ sku, quantity: 1, unitPrice: 100 }],
      mode: 'choreography',
    });
    await settled(placed.orderId);
    await sagaView(placed.sagaId, 'completed');

    const list = await runSagaflowBinary(
      ['--json', 'sagas', 'list', '--status', 'completed', '--key', placed.sagaId],
      env(),
    );
    expect(list.code, list.stderr).toBe(0);
    const page = JSON.parse(list.stdout) as { sagas: { sagaId: string; status: string }[] };
    expect(page.sagas).toEqual([
      expect.objectContaining({ sagaId: placed.sagaId, status: 'completed' }),
    ]);

    const show = await runSagaflowBinary(['sagas', 'show', placed.sagaId], env());
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`${placed.sagaId}  order-placement  COMPLETED`);
    expect(show.stdout).toMatch(/reserve-stock\s+\S+\s+done/);
    expect(show.stdout).toMatch(/OrderCreated/);
    expect(show.stdout).toMatch(/OrderApproved/);

    // The order's events topic: its partitions, and the groups reading it with their lag.
    const topic = `${system.namespace}.orders.order.events`;
    const described = await runSagaflowBinary(['--json', 'topics', 'describe', topic], env());
    expect(described.code, described.stderr).toBe(0);
    const [info] = JSON.parse(described.stdout) as {
      topic: string;
      partitions: { partition: number; end: string }[];
      groups: { group: string; lag: number }[];
    }[];
    expect(info?.topic).toBe(topic);
    expect(info?.partitions).toHaveLength(3);
    expect(info?.partitions.reduce((sum, p) => sum + Number(p.end), 0)).toBeGreaterThan(0);
    const inventory = info?.groups.find((g) => g.group.endsWith('inventory-service.inventory'));
    expect(inventory?.lag).toBeGreaterThanOrEqual(0);
    const table = await runSagaflowBinary(
      ['topics', 'describe', '--prefix', system.namespace],
      env(),
    );
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^TOPIC\s+PARTITIONS\s+END\s+GROUP\s+LAG/);
    expect(table.stdout).toContain(topic);
    const missing = await runSagaflowBinary(['topics', 'describe', `${topic}-none`], env());
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain(`no topic '${topic}-none'`);

    // The services registered the schemas at start: checking them again finds them compatible.
    const check = await runSagaflowBinary(['schemas', 'check', '--schemas', 'schemas'], env(), {
      cwd: repoRoot,
    });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/io\.sagaflow\.reference\.orders\.OrderCreated\s+compatible/);
    expect(check.stdout).not.toMatch(/incompatible/);
  });
});

/**
 * The states in the last commits of a SKU and a customer that hold one, once the approvals are
 * settled in both (settling follows the approval: waited for).
 */
async function lastStates(sku: string, customerId: string) {
  const names = referenceNames(system.namespace);
  const client = await new MongoClient(testEnv().mongodbUrl).connect();
  try {
    const last = async (database: string, entityType: string, entityId: string) => {
      const [doc] = await client
        .db(database)
        .collection<{ state?: Record<string, unknown> }>(
          `${entityType.replaceAll('.', '_')}_commits`,
        )
        .find({ entityId, state: { $exists: true } })
        .sort({ version: -1 })
        .limit(1)
        .toArray();
      return doc?.state;
    };
    return await waitFor(
      async () => {
        const stock = await last(names.database('inventory'), names.stock, sku);
        const customer = await last(names.database('payment'), names.customer, customerId);
        const open = (record: unknown) => Object.keys(record ?? { unknown: true }).length;
        return open(stock?.['holds']) === 0 && open(customer?.['orders']) === 0
          ? { stock, customer }
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: `${sku} and ${customerId} settled` },
    );
  } finally {
    await client.close();
  }
}

describe('under load', () => {
  it('approves exactly as many of 150 racing orders as there is stock for (50)', async () => {
    const sku = fresh('hot');
    const customer = fresh('rich');
    await system.client.setStock(sku, 50);
    await system.client.setCredit(customer, 1_000_000_000);
    const orders: NewOrder[] = Array.from({ length: 150 }, (_, i) => ({
      customerId: customer,
      items: [{ sku, quantity: 1, unitPrice: 100 }],
      mode: modes[i % 2]!,
    }));
    const ids = await placeAll(system.client, orders, {
      keyPrefix: fresh('race'),
      concurrency: 16,
    });
    const { orders: views, quiet } = await waitUntilTerminal(system.client, ids, {
      timeoutMs: 600_000,
    });
    expect(quiet).toBe(true);
    const approved = [...views.values()].filter((o) => o.status === 'APPROVED');
    expect(approved).toHaveLength(50);
    expect(await system.client.stock(sku)).toEqual({ sku, available: 0, reserved: 50 });
    // Bounded state: once settled, the SKU and the customer keep no record of any of the 150
    // orders (read from their last commits in the database).
    const stored = await lastStates(sku, customer);
    expect(stored.stock).toEqual({ available: 0, holds: {}, settled: 50 });
    expect(stored.customer).toMatchObject({ creditReserved: 5_000, orders: {} });
    expect(
      await checkInvariants(
        system.client,
        { stock: { [sku]: 50 }, credit: { [customer]: 1_000_000_000 } },
        [...views.values()],
      ),
    ).toEqual([]);
  }, 900_000);
});
