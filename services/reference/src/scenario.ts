import type { NewOrder, OrderView, ReferenceClient } from './client.js';

/** Stock and credit that a batch of orders starts from. */
export interface Starting {
  readonly stock: Readonly<Record<string, number>>;
  readonly credit: Readonly<Record<string, number>>;
}

/** A small deterministic random generator (mulberry32), so that a batch can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A mixed batch: both modes; SKUs with plenty and with scarce stock (some orders are refused for
 * stock); customers with high, low and no credit, and some that do not exist (some are refused
 * for credit). SKUs and customers come in groups of one of each kind per 100 orders, so that a
 * large batch spreads over more entities as a real shop's would. The prefix keeps SKUs and
 * customers apart between batches.
 */
export function mixedBatch(count: number, options: { seed?: number; prefix?: string } = {}) {
  const random = seededRandom(options.seed ?? 1);
  const p = options.prefix ?? '';
  const groups = Math.max(1, Math.ceil(count / 100));
  const per = (n: number) => Math.ceil(n / groups);
  const stock: Record<string, number> = {};
  const credit: Record<string, number> = {};
  const prices: Record<string, number> = {};
  const skus: string[][] = [];
  const customers: string[][] = [];
  for (let g = 0; g < groups; g++) {
    const kinds: [string, number, number][] = [
      ['widget', count * 4, 1_250],
      ['gadget', count / 4, 4_999],
      ['gizmo', count / 10, 19_900],
    ];
    skus.push(
      kinds.map(([kind, quantity, price]) => {
        const sku = `${p}${kind}-${g}`;
        stock[sku] = per(quantity);
        prices[sku] = price;
        return sku;
      }),
    );
    const limits: [string, number][] = [
      ['alice', 1_000_000_000],
      ['bob', 25_000 * per(count / 20)],
      ['carol', 10_000],
      ['dave', 500_000 * per(count / 10)],
    ];
    customers.push([
      ...limits.map(([name, limit]) => {
        credit[`${p}${name}-${g}`] = limit;
        return `${p}${name}-${g}`;
      }),
      `${p}nobody-${g}`,
    ]);
  }
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const orders: NewOrder[] = [];
  for (let i = 0; i < count; i++) {
    const g = Math.floor(random() * groups);
    const lines = 1 + Math.floor(random() * 2);
    const picked = new Set<string>();
    for (let l = 0; l < lines; l++) picked.add(pick(skus[g]!));
    orders.push({
      customerId: pick(customers[g]!),
      items: [...picked].map((sku) => ({
        sku,
        quantity: 1 + Math.floor(random() * 3),
        unitPrice: prices[sku]!,
      })),
      mode: i % 2 === 0 ? 'choreography' : 'orchestration',
    });
  }
  const starting: Starting = { stock, credit };
  return { starting, orders };
}

/** Sets the starting stock and credit. */
export async function seed(client: ReferenceClient, starting: Starting): Promise<void> {
  for (const [sku, available] of Object.entries(starting.stock))
    await client.setStock(sku, available);
  for (const [id, limit] of Object.entries(starting.credit)) await client.setCredit(id, limit);
}

/** Places orders, a few at a time, retrying one whose request failed (same idempotency key). */
export async function placeAll(
  client: ReferenceClient,
  orders: readonly NewOrder[],
  options: { concurrency?: number; keyPrefix: string; onPlaced?: (n: number) => void },
): Promise<string[]> {
  const ids: string[] = new Array<string>(orders.length);
  let next = 0;
  let placed = 0;
  const worker = async () => {
    while (next < orders.length) {
      const i = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          ids[i] = (await client.placeOrder(orders[i]!, `${options.keyPrefix}-${i}`)).orderId;
          break;
        } catch (error) {
          // A service restarting: the same key again places the order once.
          if (attempt >= 120) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      options.onPlaced?.(++placed);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return ids;
}

/**
 * Reads every order until each is APPROVED or REJECTED (or the time is up: then returns what it
 * has).
 */
export async function waitUntilTerminal(
  client: ReferenceClient,
  orderIds: readonly string[],
  options: { timeoutMs: number; onProgress?: (done: number) => void },
): Promise<{ orders: Map<string, OrderView>; quiet: boolean }> {
  const orders = new Map<string, OrderView>();
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    for (const id of orderIds) {
      if (orders.get(id)?.status === 'APPROVED' || orders.get(id)?.status === 'REJECTED') continue;
      try {
        orders.set(id, await client.order(id));
      } catch {
        // The order service is restarting: read it again on the next round.
      }
    }
    const done = [...orders.values()].filter(
      (o) => o.status === 'APPROVED' || o.status === 'REJECTED',
    ).length;
    options.onProgress?.(done);
    if (done === orderIds.length) return { orders, quiet: true };
    if (Date.now() > deadline) return { orders, quiet: false };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Checks the system's invariants once it is quiet; returns the violations (none: all hold).
 * Stock never negative, reserved = quantities of approved orders and available + reserved = the
 * starting stock; credit reserved = totals of approved orders; one shipment per approved order
 * and none for a rejected one; every order terminal.
 */
export async function checkInvariants(
  client: ReferenceClient,
  starting: Starting,
  orders: readonly OrderView[],
): Promise<string[]> {
  const violations: string[] = [];
  const approved = orders.filter((o) => o.status === 'APPROVED');
  for (const o of orders) {
    if (o.status !== 'APPROVED' && o.status !== 'REJECTED')
      violations.push(`order ${o.orderId} is ${o.status}`);
  }
  for (const [sku, initial] of Object.entries(starting.stock)) {
    const held = approved
      .flatMap((o) => o.items)
      .filter((i) => i.sku === sku)
      .reduce((n, i) => n + i.quantity, 0);
    const stock = await client.stock(sku);
    if (stock.available < 0) violations.push(`stock of ${sku} is negative (${stock.available})`);
    if (stock.reserved !== held)
      violations.push(`stock of ${sku}: ${stock.reserved} reserved, approved orders hold ${held}`);
    if (stock.available + stock.reserved !== initial)
      violations.push(
        `stock of ${sku}: ${stock.available} + ${stock.reserved} is not the starting ${initial}`,
      );
  }
  for (const id of Object.keys(starting.credit)) {
    const owed = approved.filter((o) => o.customerId === id).reduce((n, o) => n + o.total, 0);
    const customer = await client.customer(id);
    if (customer.creditReserved !== owed)
      violations.push(
        `customer ${id}: ${customer.creditReserved} credit reserved, approved orders total ${owed}`,
      );
  }
  for (const o of orders) {
    const shipments = await client.shipments(o.orderId);
    const expected = o.status === 'APPROVED' ? 1 : 0;
    if (shipments.length !== expected)
      violations.push(`order ${o.orderId} (${o.status}) has ${shipments.length} shipments`);
  }
  return violations;
}

/**
 * {@link checkInvariants} again until they hold, or `timeoutMs` has passed (then the last
 * violations). An order is terminal before all of its compensation is done: on `StockReleased`
 * the order service rejects the order while the inventory frees the stock, each at its own pace,
 * so a system whose orders are all terminal may still be freeing stock for a moment. What has
 * not settled by the deadline is a violation.
 */
export async function settledInvariants(
  client: ReferenceClient,
  starting: Starting,
  orders: readonly OrderView[],
  options: { readonly timeoutMs?: number } = {},
): Promise<string[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const violations = await checkInvariants(client, starting, orders);
    if (violations.length === 0 || Date.now() > deadline) return violations;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** Counts of a batch's outcomes, by mode and reason. */
export function summarize(orders: readonly OrderView[]) {
  const rows = new Map<string, number>();
  for (const o of orders) {
    const reason =
      o.status === 'REJECTED'
        ? (o.rejectionReason ?? '').startsWith('not enough stock')
          ? 'stock'
          : /credit|customer/.test(o.rejectionReason ?? '')
            ? 'credit'
            : 'other'
        : '';
    const key = `${o.mode} ${o.status}${reason === '' ? '' : ` (${reason})`}`;
    rows.set(key, (rows.get(key) ?? 0) + 1);
  }
  return [...rows.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * Places one orchestrated order of `threshold` cents (a SKU and a customer of its own, `prefix`
 * first), waits until it awaits approval, approves it and waits until it is approved, telling
 * each step; returns it, and the stock and credit it started from.
 */
export async function approveLargeOrder(
  client: ReferenceClient,
  prefix: string,
  threshold: number,
  say: (line: string) => void,
): Promise<{ order: OrderView; starting: Starting }> {
  const sku = `${prefix}grand-piano`;
  const customerId = `${prefix}patron`;
  const price = Math.max(threshold, 1);
  const starting: Starting = { stock: { [sku]: 1 }, credit: { [customerId]: price } };
  await seed(client, starting);
  const { orderId } = await client.placeOrder({
    customerId,
    items: [{ sku, quantity: 1, unitPrice: price }],
    mode: 'orchestration',
  });
  const reach = async (status: OrderView['status']) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const order = await client.order(orderId).catch(() => undefined);
      if (order?.status === status) return order;
      if (order?.status === 'REJECTED' || Date.now() > deadline) {
        throw new Error(
          `order ${orderId} did not reach ${status} (it is ${order?.status ?? 'unknown'}${order?.rejectionReason === undefined ? '' : `: ${order.rejectionReason}`})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  say(`A large order (${price} cents, orchestrated): ${orderId}`);
  await reach('AWAITING_APPROVAL');
  say(`  AWAITING_APPROVAL: its stock and credit are held; POST /orders/${orderId}/approval`);
  await client.decideApproval(orderId, { approved: true, by: 'the demo' });
  const order = await reach('APPROVED');
  say(`  approved by the demo: ${order.status}`);
  return { order, starting };
}
