import { buildInventoryService, stockEntity } from '@sagaflow/inventory-service';
import { buildOrderService } from '@sagaflow/order-service';
import { buildPaymentService, customerEntity } from '@sagaflow/payment-service';
import { referenceNames, sagaIdOf } from '@sagaflow/reference-contracts';
import { waitFor } from '@sagaflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { startInMemorySystem, stopInMemorySystems } from './in-memory-system.js';

/*
 * A choreography's compensation with the events in the orders a race can give them: the order
 * decides (a pending order is cancelled, an approved one stays approved), and the others undo
 * their part of a cancelled order whatever step the saga had reached, refusing a step that comes
 * after the cancellation.
 */
const names = referenceNames();
afterEach(stopInMemorySystems);

describe('compensating a choreography', () => {
  it('undoes every cancelled order and nothing of an approved one, however the request races the saga', async () => {
    // Stock and credit first; then the order service alone: the first orders are cancelled
    // before any other participant has read them, and the others then read them (and their
    // cancellations) in whatever order their topics give.
    const { client, requestCompensation, add, pause } = await startInMemorySystem({
      order: buildOrderService,
      inventory: buildInventoryService,
      payment: buildPaymentService,
    });
    await client.setStock('bolts', 100);
    await client.setCredit('c-1', 1_000_000);
    await pause('inventory');
    await pause('payment');
    const placed: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const { orderId } = await client.placeOrder({
        customerId: 'c-1',
        items: [{ sku: 'bolts', quantity: 2, unitPrice: 50 }],
        mode: 'choreography',
      });
      placed.push(orderId);
    }
    for (const orderId of placed.slice(0, 8)) await requestCompensation(orderId);
    await waitFor(
      async () =>
        (await Promise.all(placed.slice(0, 8).map((id) => client.order(id)))).every(
          (o) => o.status === 'REJECTED',
        ),
      { timeoutMs: 5_000, description: 'the first 8 orders cancelled' },
    );
    await add('inventory', buildInventoryService);
    await add('payment', buildPaymentService);
    // Requests that race the saga, and requests for orders approved already.
    for (const orderId of placed.slice(8, 12)) await requestCompensation(orderId);
    await waitFor(
      async () =>
        (await Promise.all(placed.slice(12).map((id) => client.order(id)))).every(
          (o) => o.status === 'APPROVED',
        ),
      { timeoutMs: 5_000, description: 'the last 8 orders approved' },
    );
    for (const orderId of placed.slice(12)) await requestCompensation(orderId);
    const settled = async () => {
      const orders = await Promise.all(placed.map((id) => client.order(id)));
      const approved = orders.filter((o) => o.status === 'APPROVED').length;
      const [stock, customer] = await Promise.all([client.stock('bolts'), client.customer('c-1')]);
      return {
        pending: orders.filter((o) => o.status === 'PENDING').length,
        approved,
        reservedBeyondApproved: stock.reserved - approved * 2,
        stock: stock.available + stock.reserved,
        creditBeyondApproved: customer.creditReserved - approved * 100,
      };
    };
    await waitFor(
      async () => {
        const now = await settled();
        return (
          now.pending === 0 && now.reservedBeyondApproved === 0 && now.creditBeyondApproved === 0
        );
      },
      { timeoutMs: 10_000, description: 'every order settled, holding just what it approved' },
    );
    const end = await settled();
    expect(end).toMatchObject({ reservedBeyondApproved: 0, stock: 100, creditBeyondApproved: 0 });
    // The 8 cancelled first and the 8 approved before their request, at least.
    expect(end.approved).toBeGreaterThanOrEqual(8);
    expect(end.approved).toBeLessThanOrEqual(12);
  });

  it('refuses a payment that comes after its order was cancelled, and releases one that came before', async () => {
    const { client, emit, services } = await startInMemorySystem({ payment: buildPaymentService });
    const customer = () =>
      services['payment']!.service.sagaflow.commands.load(customerEntity(names.customer), 'c-2');
    /** Waits until the customer has made `version` commits. */
    const commits = (version: number, description: string) =>
      waitFor(async () => (await customer()).version >= version, { timeoutMs: 5_000, description });
    await client.setCredit('c-2', 1_000);
    const from = (orderId: string, entityType: string) => ({
      entityType,
      entityId: orderId,
      sagaId: sagaIdOf(orderId, 'CHOREOGRAPHY'),
    });
    const cancelled = (orderId: string) =>
      emit('OrderRejected', from(orderId, names.order), {
        orderId,
        reason: 'compensation requested by operator: the customer called',
        customerId: 'c-2',
        cancelled: true,
      });
    const reserved = (orderId: string) =>
      emit('StockReserved', from(orderId, names.reservation), {
        orderId,
        customerId: 'c-2',
        items: [{ sku: 'bolts', quantity: 1, unitPrice: 300 }],
        total: 300,
      });
    // Cancelled before its payment was asked: the release takes the order's payment decision,
    // and the late request finds it taken (a duplicate: nothing authorized, nothing kept).
    await cancelled('o-late');
    await commits(2, 'o-late released before its payment was asked');
    await reserved('o-late');
    await waitFor(
      async () =>
        /sagaflow_commands_total\{[^}]*command="Authorize"[^}]*outcome="duplicate"[^}]*\} 1/.test(
          await (await fetch(`${services['payment']!.url}/metrics`)).text(),
        ),
      { timeoutMs: 5_000, description: 'the late payment of o-late found decided' },
    );
    expect((await customer()).version).toBe(2);
    expect((await customer()).state).toMatchObject({ creditReserved: 0, orders: {} });
    // Paid before it was cancelled: released, once.
    await reserved('o-early');
    await commits(3, 'o-early authorized');
    expect((await customer()).state.creditReserved).toBe(300);
    await cancelled('o-early');
    await commits(4, 'o-early released');
    expect((await customer()).state).toMatchObject({ creditReserved: 0, orders: {} });
  });

  it('holds no stock for an order cancelled before its reservation came', async () => {
    const { client, emit, services } = await startInMemorySystem({
      inventory: buildInventoryService,
    });
    await client.setStock('nuts', 10);
    const orderId = 'o-gone';
    const from = {
      entityType: names.order,
      entityId: orderId,
      sagaId: sagaIdOf(orderId, 'CHOREOGRAPHY'),
    };
    // Both on the order's topic and key: read in this order.
    await emit('OrderRejected', from, {
      orderId,
      reason: 'compensation requested by operator: the customer called',
      customerId: 'c-3',
      cancelled: true,
    });
    await emit('OrderCreated', from, {
      orderId,
      customerId: 'c-3',
      items: [{ sku: 'nuts', quantity: 4, unitPrice: 10 }],
      total: 40,
      mode: 'CHOREOGRAPHY',
    });
    // The reservation may take the nuts for a moment; it gives them back (set, held, given back).
    await waitFor(
      async () =>
        (
          await services['inventory']!.service.sagaflow.commands.load(
            stockEntity(names.stock),
            'nuts',
          )
        ).version >= 3,
      { timeoutMs: 5_000, description: 'the late reservation of o-gone read and undone' },
    );
    expect(await client.stock('nuts')).toEqual({ sku: 'nuts', available: 10, reserved: 0 });
  });
});

describe('bounded entity state', () => {
  it("keeps only open orders in a SKU's and a customer's state: approved, refused and cancelled orders leave it", async () => {
    const { client, requestCompensation, services } = await startInMemorySystem({
      order: buildOrderService,
      inventory: buildInventoryService,
      payment: buildPaymentService,
    });
    await client.setStock('bolts', 10);
    await client.setCredit('c-9', 500);
    // Bolts for five orders of two, credit for five of 100: the sixth is refused.
    const placed: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const { orderId } = await client.placeOrder({
        customerId: 'c-9',
        items: [{ sku: 'bolts', quantity: 2, unitPrice: 50 }],
        mode: 'choreography',
      });
      placed.push(orderId);
    }
    // One more, cancelled by an operator while pending (or refused, when it is too late).
    const { orderId: cancelledId } = await client.placeOrder({
      customerId: 'c-9',
      items: [{ sku: 'bolts', quantity: 1, unitPrice: 50 }],
      mode: 'choreography',
    });
    await requestCompensation(cancelledId);
    placed.push(cancelledId);
    const stock = () =>
      services['inventory']!.service.sagaflow.commands.load(stockEntity(names.stock), 'bolts');
    const customer = () =>
      services['payment']!.service.sagaflow.commands.load(customerEntity(names.customer), 'c-9');
    await waitFor(
      async () => {
        const orders = await Promise.all(placed.map((id) => client.order(id)));
        if (orders.some((o) => o.status === 'PENDING')) return false;
        const [s, c] = await Promise.all([stock(), customer()]);
        return Object.keys(s.state.holds).length === 0 && Object.keys(c.state.orders).length === 0;
      },
      { timeoutMs: 10_000, description: 'every order decided, and its holds and payment settled' },
    );
    const orders = await Promise.all(placed.map((id) => client.order(id)));
    const approved = orders.filter((o) => o.status === 'APPROVED');
    expect(approved.length).toBeGreaterThanOrEqual(4);
    const taken = approved.reduce((sum, o) => sum + o.items[0]!.quantity, 0);
    // The state holds nothing per order, and still adds up.
    const { state: s } = await stock();
    expect(Object.keys(s).sort()).toEqual(['available', 'holds', 'settled']);
    expect(s).toEqual({ available: 10 - taken, holds: {}, settled: taken });
    expect(await client.stock('bolts')).toMatchObject({ available: 10 - taken, reserved: taken });
    const { state: c } = await customer();
    expect(c).toMatchObject({ creditReserved: approved.length * 100, orders: {} });
  }, 20_000);
});
