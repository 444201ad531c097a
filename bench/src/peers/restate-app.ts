/**
 * The order workflow on Restate, for the peer comparison: four steps, each one durable state
 * change of a keyed object (the stock of a SKU, the credit of a customer, the order, the
 * shipment), called from a workflow keyed by the order id; a refused payment releases the stock
 * and rejects the order. The same work as sagaflow's orchestration mode, in Restate's idiom.
 * And the N-step workflow of growth by saga length (`steps`, see `../steps/domain.ts`).
 *
 * `node --import tsx restate-app.ts` with RESTATE_APP_PORT; the benchmark registers it.
 */
import * as restate from '@restatedev/restate-sdk';
import type { WorkflowInput } from './workflow-input.js';

// The SDK calls Promise.withResolvers (ES2024, Node.js 22); this machine's Node.js 20 lacks it.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    value: <T>() => {
      let resolve!: (value: T) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

const stock = restate.object({
  name: 'stock',
  handlers: {
    set: async (ctx: restate.ObjectContext, available: number) => {
      ctx.set('available', available);
      await Promise.resolve();
    },
    hold: async (ctx: restate.ObjectContext, req: { orderId: string; quantity: number }) => {
      const holds = (await ctx.get<Record<string, number>>('holds')) ?? {};
      if (holds[req.orderId] !== undefined) return true;
      const available = (await ctx.get<number>('available')) ?? 0;
      if (available < req.quantity) return false;
      holds[req.orderId] = req.quantity;
      ctx.set('available', available - req.quantity);
      ctx.set('holds', holds);
      return true;
    },
    unhold: async (ctx: restate.ObjectContext, orderId: string) => {
      const holds = (await ctx.get<Record<string, number>>('holds')) ?? {};
      const quantity = holds[orderId];
      if (quantity === undefined) return;
      delete holds[orderId];
      ctx.set('available', ((await ctx.get<number>('available')) ?? 0) + quantity);
      ctx.set('holds', holds);
    },
  },
});

const customer = restate.object({
  name: 'customer',
  handlers: {
    set: async (ctx: restate.ObjectContext, limit: number) => {
      ctx.set('limit', limit);
      await Promise.resolve();
    },
    authorize: async (ctx: restate.ObjectContext, req: { orderId: string; amount: number }) => {
      const orders = (await ctx.get<Record<string, number>>('orders')) ?? {};
      if (orders[req.orderId] !== undefined) return true;
      const reserved = (await ctx.get<number>('reserved')) ?? 0;
      if (reserved + req.amount > ((await ctx.get<number>('limit')) ?? 0)) return false;
      orders[req.orderId] = req.amount;
      ctx.set('reserved', reserved + req.amount);
      ctx.set('orders', orders);
      return true;
    },
  },
});

const order = restate.object({
  name: 'order',
  handlers: {
    decide: async (ctx: restate.ObjectContext, status: 'APPROVED' | 'REJECTED') => {
      if ((await ctx.get<string>('status')) === undefined) ctx.set('status', status);
    },
  },
});

const shipment = restate.object({
  name: 'shipment',
  handlers: {
    schedule: async (ctx: restate.ObjectContext) => {
      if ((await ctx.get<string>('status')) === undefined) ctx.set('status', 'SCHEDULED');
    },
  },
});

/** The N-step workflow's ledger: one durable state change per step, idempotent by step. */
const ledger = restate.object({
  name: 'ledger',
  handlers: {
    record: async (ctx: restate.ObjectContext, step: number) => {
      if (((await ctx.get<number>('recorded')) ?? 0) <= step) ctx.set('recorded', step + 1);
    },
  },
});

/** Growth by saga length: `steps` steps, each recording itself in the workflow's ledger. */
const steps = restate.workflow({
  name: 'steps',
  handlers: {
    run: async (ctx: restate.WorkflowContext, count: number) => {
      for (let step = 0; step < count; step++) await ctx.objectClient(ledger, ctx.key).record(step);
      return 'completed';
    },
  },
});

const orderFulfillment = restate.workflow({
  name: 'orderFulfillment',
  handlers: {
    run: async (ctx: restate.WorkflowContext, input: WorkflowInput) => {
      const { orderId } = input;
      const held = await ctx
        .objectClient(stock, input.sku)
        .hold({ orderId, quantity: input.quantity });
      if (!held) {
        await ctx.objectClient(order, orderId).decide('REJECTED');
        return 'compensated';
      }
      const paid = await ctx
        .objectClient(customer, input.customerId)
        .authorize({ orderId, amount: input.amount });
      if (!paid) {
        await ctx.objectClient(stock, input.sku).unhold(orderId);
        await ctx.objectClient(order, orderId).decide('REJECTED');
        return 'compensated';
      }
      await ctx.objectClient(order, orderId).decide('APPROVED');
      await ctx.objectClient(shipment, orderId).schedule();
      return 'completed';
    },
  },
});

const port = Number(process.env['RESTATE_APP_PORT'] ?? '9080');
await restate
  .endpoint()
  .bind(stock)
  .bind(customer)
  .bind(order)
  .bind(shipment)
  .bind(orderFulfillment)
  .bind(ledger)
  .bind(steps)
  .listen(port);
process.stdout.write(`restate app ready on ${port}\n`);
