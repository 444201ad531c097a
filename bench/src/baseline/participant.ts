/**
 * The baseline: the reference order flow written by hand with bare kafkajs and the mongodb
 * driver, none of sagaflow. It does the durable work a careful hand-written choreography needs
 * and no more: every state change and the event it emits are written in one document (an outbox
 * field), the event is published with acks from all in-sync replicas by an idempotent producer,
 * then the outbox field is cleared; every consumer is idempotent by order (a repeated message
 * finds its order's record and publishes its answer again); offsets are committed after the
 * handler. A sweeper republishes outboxes left behind by a crash.
 *
 * Run one process per participant: `node --import tsx participant.ts <order|inventory|payment|shipping>`
 * with BASELINE_BROKERS, BASELINE_MONGODB_URL, BASELINE_NAMESPACE and, for the order participant,
 * BASELINE_PORT. The topics must exist (see `startBaseline`).
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { MongoClient, MongoServerError, type Collection, type Db, type Document } from 'mongodb';
import { baselineTopics, headerNames, type BaselineRole } from './names.js';

interface Outgoing {
  readonly topic: string;
  readonly type: string;
  readonly key: string;
  readonly value: Record<string, unknown>;
  /** When the state change that emits it was written (ISO time). */
  readonly writtenAt: string;
}

interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPrice: number;
}

interface Order {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly total: number;
}

/** A document: fields by name, an outbox on those that emit events. */
interface Record_ extends Document {
  _id: string;
  pending?: Outgoing[];
  pendingSince?: number;
}

const role = process.argv[2] as BaselineRole | undefined;
const roles: readonly BaselineRole[] = ['order', 'inventory', 'payment', 'shipping'];
if (role === undefined || !roles.includes(role)) {
  process.stderr.write(`usage: participant.ts <${roles.join('|')}>\n`);
  process.exit(2);
}
const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`${name} must be set\n`);
    process.exit(2);
  }
  return value;
};
const namespace = env('BASELINE_NAMESPACE');
const topics = baselineTopics(namespace);
const kafka = new Kafka({
  brokers: env('BASELINE_BROKERS').split(','),
  clientId: `${namespace}-${role}`,
  logLevel: logLevel.ERROR,
});
const mongo = new MongoClient(env('BASELINE_MONGODB_URL'));
const db: Db = mongo.db(`${namespace}-baseline`);
const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

/** Publishes a record's outbox, then clears it. */
async function flush(collection: Collection<Record_>, id: string, pending: readonly Outgoing[]) {
  if (pending.length === 0) return;
  await producer.sendBatch({
    acks: -1,
    topicMessages: pending.map((m) => ({
      topic: m.topic,
      messages: [
        {
          key: m.key,
          value: JSON.stringify(m.value),
          headers: {
            [headerNames.eventType]: m.type,
            [headerNames.sagaId]: m.key,
            [headerNames.occurredAt]: m.writtenAt,
          },
        },
      ],
    })),
  });
  await collection.updateOne({ _id: id }, { $unset: { pending: '', pendingSince: '' } });
}

/**
 * Inserts a per-order record with its outbox and publishes it; if the record exists (a repeated
 * message), publishes what it still holds.
 */
async function record(collection: Collection<Record_>, doc: Record_ & { pending: Outgoing[] }) {
  try {
    await collection.insertOne({ ...doc, pendingSince: Date.now() });
    await flush(collection, doc._id, doc.pending);
  } catch (error) {
    if (!(error instanceof MongoServerError) || error.code !== 11000) throw error;
    const existing = await collection.findOne({ _id: doc._id });
    await flush(collection, doc._id, existing?.pending ?? []);
  }
}

const collections = {
  orders: db.collection<Record_>('orders'),
  stock: db.collection<Record_>('stock'),
  reservations: db.collection<Record_>('reservations'),
  customers: db.collection<Record_>('customers'),
  payments: db.collection<Record_>('payments'),
  shipments: db.collection<Record_>('shipments'),
};
const holdsOf = (doc: Record_ | null, field: string) =>
  (doc?.[field] ?? {}) as Record<string, number | undefined>;
/** The collections whose records carry an outbox, by participant. */
const outboxes: Record<BaselineRole, Collection<Record_>[]> = {
  order: [collections.orders],
  inventory: [collections.reservations],
  payment: [collections.payments],
  shipping: [collections.shipments],
};

const event = (
  topic: string,
  type: string,
  orderId: string,
  value: Record<string, unknown>,
): Outgoing => ({
  topic,
  type,
  key: orderId,
  value: { orderId, ...value },
  writtenAt: new Date().toISOString(),
});

/** Holds an order's quantity of one SKU; false when the stock is short. Idempotent by order. */
async function hold(sku: string, orderId: string, quantity: number): Promise<boolean> {
  const held = await collections.stock.updateOne(
    { _id: sku, available: { $gte: quantity }, [`holds.${orderId}`]: { $exists: false } },
    {
      $inc: { available: -quantity, reserved: quantity },
      $set: { [`holds.${orderId}`]: quantity },
    },
  );
  if (held.modifiedCount === 1) return true;
  const stock = await collections.stock.findOne({ _id: sku });
  return holdsOf(stock, 'holds')[orderId] !== undefined;
}

async function unhold(sku: string, orderId: string) {
  const stock = await collections.stock.findOne({ _id: sku });
  const quantity = holdsOf(stock, 'holds')[orderId];
  if (quantity === undefined) return;
  await collections.stock.updateOne(
    { _id: sku, [`holds.${orderId}`]: quantity },
    { $inc: { available: quantity, reserved: -quantity }, $unset: { [`holds.${orderId}`]: '' } },
  );
}

type Handler = (type: string, value: Record<string, unknown>) => Promise<void>;

const handlers: Record<BaselineRole, { topics: string[]; handle: Handler }> = {
  order: {
    topics: [topics.reservations, topics.payments],
    handle: async (type, value) => {
      const orderId = String(value['orderId']);
      const decide = async (status: string, out: Outgoing) => {
        const updated = await collections.orders.findOneAndUpdate(
          { _id: orderId, status: 'PENDING' },
          { $set: { status, pending: [out], pendingSince: Date.now() } },
          { returnDocument: 'after' },
        );
        const current = updated ?? (await collections.orders.findOne({ _id: orderId }));
        await flush(collections.orders, orderId, current?.pending ?? []);
      };
      if (type === 'PaymentAuthorized') {
        await decide('APPROVED', event(topics.orders, 'OrderApproved', orderId, {}));
      } else if (type === 'StockReservationFailed' || type === 'StockReleased') {
        const reason = String(value['reason']);
        await decide('REJECTED', event(topics.orders, 'OrderRejected', orderId, { reason }));
      }
    },
  },
  inventory: {
    topics: [topics.orders, topics.payments],
    handle: async (type, value) => {
      const orderId = String(value['orderId']);
      if (type === 'OrderCreated') {
        const order = value as unknown as Order;
        const existing = await collections.reservations.findOne({ _id: orderId });
        if (existing !== null) {
          await flush(collections.reservations, orderId, existing.pending ?? []);
          return;
        }
        const held: string[] = [];
        let short: string | undefined;
        for (const line of [...order.items].sort((a, b) => a.sku.localeCompare(b.sku))) {
          if (await hold(line.sku, orderId, line.quantity)) held.push(line.sku);
          else {
            short = `${line.sku} is short`;
            break;
          }
        }
        if (short !== undefined) for (const sku of held) await unhold(sku, orderId);
        await record(collections.reservations, {
          _id: orderId,
          status: short === undefined ? 'RESERVED' : 'FAILED',
          items: [...order.items],
          pending: [
            short === undefined
              ? event(topics.reservations, 'StockReserved', orderId, {
                  customerId: order.customerId,
                  total: order.total,
                })
              : event(topics.reservations, 'StockReservationFailed', orderId, { reason: short }),
          ],
        });
      } else if (type === 'PaymentFailed') {
        // Compensation: release the reservation, then its holds.
        const released = await collections.reservations.findOneAndUpdate(
          { _id: orderId, status: 'RESERVED' },
          {
            $set: {
              status: 'RELEASED',
              pending: [
                event(topics.reservations, 'StockReleased', orderId, { reason: value['reason'] }),
              ],
              pendingSince: Date.now(),
            },
          },
          { returnDocument: 'after' },
        );
        const current = released ?? (await collections.reservations.findOne({ _id: orderId }));
        if (current === null) return;
        for (const line of current['items'] as OrderLine[]) await unhold(line.sku, orderId);
        await flush(collections.reservations, orderId, current.pending ?? []);
      }
    },
  },
  payment: {
    topics: [topics.reservations],
    handle: async (type, value) => {
      if (type !== 'StockReserved') return;
      const orderId = String(value['orderId']);
      const existing = await collections.payments.findOne({ _id: orderId });
      if (existing !== null) {
        await flush(collections.payments, orderId, existing.pending ?? []);
        return;
      }
      const customerId = String(value['customerId']);
      const amount = Number(value['total']);
      const customer = await collections.customers.findOne({ _id: customerId });
      let authorized = holdsOf(customer, 'orders')[orderId] !== undefined;
      const reserved = Number(customer?.['reserved']);
      if (
        !authorized &&
        customer !== null &&
        reserved + amount <= Number(customer['creditLimit'])
      ) {
        const taken = await collections.customers.updateOne(
          {
            _id: customerId,
            reserved,
            [`orders.${orderId}`]: { $exists: false },
          },
          { $inc: { reserved: amount }, $set: { [`orders.${orderId}`]: amount } },
        );
        authorized = taken.modifiedCount === 1;
        if (!authorized) throw new Error(`credit of ${customerId} changed meanwhile: try again`);
      }
      await record(collections.payments, {
        _id: orderId,
        status: authorized ? 'AUTHORIZED' : 'FAILED',
        pending: [
          authorized
            ? event(topics.payments, 'PaymentAuthorized', orderId, { customerId, amount })
            : event(topics.payments, 'PaymentFailed', orderId, {
                reason: `credit limit of ${customerId} exceeded`,
              }),
        ],
      });
    },
  },
  shipping: {
    topics: [topics.orders],
    handle: async (type, value) => {
      if (type !== 'OrderApproved') return;
      const orderId = String(value['orderId']);
      await record(collections.shipments, {
        _id: orderId,
        pending: [event(topics.shipments, 'ShipmentScheduled', orderId, {})],
      });
    },
  },
};

await mongo.connect();
await producer.connect();

const { topics: subscribed, handle } = handlers[role];
const consumer = kafka.consumer({
  groupId: `${namespace}-baseline-${role}`,
  maxWaitTimeInMs: 100,
  // As sagaflow's reference services: a dead member's partitions move after 10 s.
  sessionTimeout: 10_000,
  heartbeatInterval: 1000,
});
await consumer.connect();
await consumer.subscribe({ topics: subscribed, fromBeginning: true });
await consumer.run({
  partitionsConsumedConcurrently: 3,
  eachMessage: async ({ message }) => {
    const type = message.headers?.[headerNames.eventType]?.toString() ?? '';
    const value = JSON.parse(message.value?.toString() ?? '{}') as Record<string, unknown>;
    // A failed handler throws: kafkajs does not commit and delivers the message again.
    await handle(type, value);
  },
});

// Outboxes left behind by a crash between the write and the publish.
const sweeper = setInterval(() => {
  void (async () => {
    for (const collection of outboxes[role]) {
      const stale = collection.find({ pendingSince: { $lt: Date.now() - 5_000 } });
      for await (const doc of stale) await flush(collection, doc._id, doc.pending ?? []);
    }
  })().catch((error: unknown) => process.stderr.write(`sweep: ${String(error)}\n`));
}, 5_000);

let server: ReturnType<ReturnType<typeof express>['listen']> | undefined;
if (role === 'order') {
  const app = express();
  app.use(express.json());
  app.post('/orders', (req, res, next) => {
    const body = req.body as { customerId?: unknown; items?: unknown };
    if (typeof body.customerId !== 'string' || !Array.isArray(body.items)) {
      res.status(400).json({ error: 'customerId (string) and items (array) are required' });
      return;
    }
    const items = body.items as OrderLine[];
    const orderId = randomUUID();
    const order: Order = {
      orderId,
      customerId: body.customerId,
      items,
      total: items.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0),
    };
    const pending = [event(topics.orders, 'OrderCreated', orderId, { ...order })];
    collections.orders
      .insertOne({ _id: orderId, ...order, status: 'PENDING', pending, pendingSince: Date.now() })
      .then(() => flush(collections.orders, orderId, pending))
      .then(() => res.status(202).json({ orderId }), next);
  });
  app.get('/readyz', (_req, res) => {
    res.json({ ready: true });
  });
  server = app.listen(Number(env('BASELINE_PORT')), '127.0.0.1');
}
process.stdout.write(`baseline ${role} ready\n`);

const stop = () => {
  clearInterval(sweeper);
  server?.close();
  void Promise.allSettled([consumer.disconnect(), producer.disconnect()])
    .then(() => mongo.close())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
