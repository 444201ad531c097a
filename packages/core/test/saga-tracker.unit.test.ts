import { MemorySagaViewStore } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import {
  defineSaga,
  headerNames,
  SagaflowError,
  SagaTracker,
  type MessageSubscriber,
  type ReceivedMessage,
  type SagaCompensationRequested,
  type SagaEntry,
  type SagaView,
  type SagaViewStore,
  type EventSerde,
} from '../src/index.js';

/** The events of these tests carry no payload: nothing is ever decoded. */
const serde: EventSerde = {
  encode: () => Promise.reject(new Error('not used')),
  decode: () => Promise.resolve({}),
};

const saga = defineSaga({
  type: 'order-placement',
  startsWith: 'OrderCreated',
  topics: ['orders.order.events', 'inventory.stock.events'],
  businessKey: 'orderId',
  steps: [
    {
      name: 'reserve-stock',
      participant: 'inventory',
      on: ['OrderCreated'],
      success: ['StockReserved'],
      failure: ['StockReservationFailed'],
    },
  ],
  outcomes: { completed: ['OrderApproved'], compensated: ['OrderRejected'] },
});

let offset = 0;
const event = (sagaId: string, type: string): ReceivedMessage => ({
  topic: 'orders.order.events',
  partition: 0,
  offset: String(offset++),
  key: sagaId,
  value: null,
  headers: {
    [headerNames.eventId]: `${sagaId}-${type}`,
    [headerNames.eventType]: type,
    [headerNames.entityType]: 'orders.order',
    [headerNames.entityId]: sagaId,
    [headerNames.entityVersion]: '1',
    [headerNames.sagaId]: sagaId,
    [headerNames.causationId]: 'c',
    [headerNames.service]: 'order-service',
    [headerNames.occurredAt]: new Date(Date.UTC(2026, 0, 1, 0, 0, offset % 60)).toISOString(),
  },
});

/** A subscriber that hands the tests the tracker's handler. */
function subscriber() {
  let handle: ((message: ReceivedMessage) => Promise<void>) | undefined;
  const fake: MessageSubscriber = {
    subscribe: (_options, handler) => {
      handle = handler;
      return Promise.resolve({ ready: Promise.resolve(), stop: () => Promise.resolve() });
    },
  };
  return {
    fake,
    deliver: (message: ReceivedMessage) => {
      if (handle === undefined) throw new Error('not subscribed');
      return handle(message);
    },
  };
}

/** A view store that counts the batches it is given. */
class CountingStore extends MemorySagaViewStore {
  readonly batches: number[] = [];
  viewWrites = 0;
  override recordEntries(items: readonly SagaEntry[]) {
    this.batches.push(items.length);
    return super.recordEntries(items);
  }
  override writeViews(views: readonly SagaView[]) {
    this.viewWrites += 1;
    return super.writeViews(views);
  }
}

const turns = (n: number) =>
  Array.from({ length: n }).reduce<Promise<void>>(
    (before) => before.then(() => new Promise((resolve) => setImmediate(resolve))),
    Promise.resolve(),
  );

/** A view store whose view writes take a varying while, as a database's do. */
class UnevenStore extends MemorySagaViewStore {
  #writes = 0;
  override async writeViews(views: readonly SagaView[]) {
    this.#writes += 1;
    await turns(this.#writes % 4);
    return super.writeViews(views);
  }
}

async function tracker(views: SagaViewStore, decoder: EventSerde = serde) {
  const bus = subscriber();
  const t = new SagaTracker({
    definitions: [saga],
    subscriber: bus.fake,
    serde: decoder,
    views,
    stuckCheckIntervalMs: 60_000,
  });
  await t.start();
  return { tracker: t, deliver: bus.deliver };
}

describe('SagaTracker', () => {
  it('records the events handed in together as one batch, with one write of their views', async () => {
    const views = new CountingStore();
    const { tracker: t, deliver } = await tracker(views);
    const sagas = Array.from({ length: 10 }, (_, i) => `batch-${i}`);
    await Promise.all(
      sagas.flatMap((id) => [
        deliver(event(id, 'OrderCreated')),
        deliver(event(id, 'StockReserved')),
        deliver(event(id, 'OrderApproved')),
      ]),
    );
    expect(views.batches).toEqual([30]);
    expect(views.viewWrites).toBe(1);
    for (const id of sagas) {
      const view = await views.view(id);
      expect(view?.status, id).toBe('completed');
      expect(view?.timeline.map((e) => e.type).sort(), id).toEqual([
        'OrderApproved',
        'OrderCreated',
        'StockReserved',
      ]);
    }
    // Handed in one after the other, each event is a batch of its own.
    await deliver(event('batch-late', 'OrderCreated'));
    await deliver(event('batch-late', 'StockReserved'));
    expect(views.batches.slice(1)).toEqual([1, 1]);
    await t.stop();
  });

  it('two trackers writing one saga side by side end on the view of its whole timeline', async () => {
    const views = new UnevenStore();
    const [a, b] = [await tracker(views), await tracker(views)];
    const types = ['OrderCreated', 'StockReserved', 'OrderApproved'];
    for (let round = 0; round < 20; round += 1) {
      const id = `both-${round}`;
      // Each event reaches one of the trackers (as partitions do), all at the same time.
      await Promise.all(
        types.map((type, i) => ((i + round) % 2 === 0 ? a : b).deliver(event(id, type))),
      );
      const view = await views.view(id);
      expect(view?.timeline.length, id).toBe(3);
      expect(view?.status, id).toBe('completed');
    }
    await a.tracker.stop();
    await b.tracker.stop();
  });

  it('waits out a registry that cannot answer, and records an unreadable payload without its fields', async () => {
    const views = new MemorySagaViewStore();
    let registryUp = false;
    const decoder: EventSerde = {
      encode: () => Promise.reject(new Error('not used')),
      decode: (type) => {
        if (type === 'StockReserved') {
          // Bytes that no schema can read: terminal.
          return Promise.reject(new SagaflowError('SERDE_FAILED', 'cannot read StockReserved'));
        }
        return registryUp
          ? Promise.resolve({ orderId: 'o-1', total: 250 })
          : Promise.reject(
              new SagaflowError('SERDE_FAILED', 'schema registry unreachable: ECONNREFUSED', {
                retriable: true,
              }),
            );
      },
    };
    const { tracker: t, deliver } = await tracker(views, decoder);
    const withValue = (message: ReceivedMessage) => ({ ...message, value: Buffer.from([0]) });
    // The handler fails: the bus hands the event again later, nothing is recorded meanwhile.
    await expect(deliver(withValue(event('registry', 'OrderCreated')))).rejects.toMatchObject({
      code: 'SERDE_FAILED',
      retriable: true,
    });
    expect(await views.view('registry')).toBeUndefined();
    registryUp = true;
    await deliver(withValue(event('registry', 'OrderCreated')));
    const view = await views.view('registry');
    expect(view?.businessKey).toBe('o-1');
    expect(view?.timeline[0]?.keyFields).toEqual({ orderId: 'o-1', total: 250 });
    // An observer never blocks a partition on a payload that no retry can read.
    await deliver(withValue(event('registry', 'StockReserved')));
    expect((await views.view('registry'))?.timeline.map((e) => [e.type, e.keyFields])).toEqual([
      ['OrderCreated', { orderId: 'o-1', total: 250 }],
      ['StockReserved', {}],
    ]);
    await t.stop();
  });

  it('redacts the fields the schema marks sensitive in the timeline it shows', async () => {
    const views = new MemorySagaViewStore();
    const decoder: EventSerde = {
      encode: () => Promise.reject(new Error('not used')),
      decode: () => Promise.resolve({ orderId: 'o-9', customerId: 'c-secret', total: 5 }),
      redact: (_type, payload) => ({ ...payload, customerId: '[REDACTED]' }),
    };
    const { tracker: t, deliver } = await tracker(views, decoder);
    await deliver({ ...event('sensitive', 'OrderCreated'), value: Buffer.from([0]) });
    const view = await views.view('sensitive');
    expect(view?.timeline[0]?.keyFields).toEqual({
      orderId: 'o-9',
      customerId: '[REDACTED]',
      total: 5,
    });
    expect(view?.businessKey).toBe('o-9');
    expect(JSON.stringify(view)).not.toContain('c-secret');
    await t.stop();
  });

  it('a failed batch fails the handler of each of its events, and the next batch goes on', async () => {
    const views = new CountingStore();
    const { tracker: t, deliver } = await tracker(views);
    const failing = views.recordEntries.bind(views);
    let fail = true;
    views.recordEntries = (items) =>
      fail ? Promise.reject(new Error('database down')) : failing(items);
    const outcomes = await Promise.allSettled([
      deliver(event('fails-1', 'OrderCreated')),
      deliver(event('fails-2', 'OrderCreated')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await deliver(event('fails-1', 'OrderCreated'));
    expect((await views.view('fails-1'))?.status).toBe('running');
    await t.stop();
  });

  describe('compensation requests', () => {
    /** The saga above, whose reservation must answer within a second, compensated when stuck. */
    const timed = defineSaga({
      ...saga,
      steps: saga.steps.map((step) => ({ ...step, deadlineMs: 1_000 })),
      onStuck: 'compensate',
    });

    async function compensating(views: SagaViewStore, publish: (r: unknown) => Promise<void>) {
      const bus = subscriber();
      let now = Date.UTC(2026, 0, 1, 0, 0, 0);
      const t = new SagaTracker({
        definitions: [timed],
        subscriber: bus.fake,
        serde,
        views,
        stuckCheckIntervalMs: 60_000,
        clock: () => new Date(now),
        publishCompensation: publish,
      });
      await t.start();
      return {
        tracker: t,
        deliver: bus.deliver,
        later: (ms: number) => {
          now += ms;
        },
      };
    }

    it('asks again for the compensation of a stuck saga whose request could not be published', async () => {
      const views = new MemorySagaViewStore();
      const published: unknown[] = [];
      let failing = true;
      const {
        tracker: t,
        deliver,
        later,
      } = await compensating(views, (request) => {
        if (failing) return Promise.reject(new Error('the control service is down'));
        published.push(request);
        return Promise.resolve();
      });
      await deliver(event('stuck-1', 'OrderCreated'));
      later(120_000);
      // The process asking for it fails (or dies) before the request is out.
      await expect(t.checkDeadlines()).rejects.toThrow('the control service is down');
      expect(published).toEqual([]);
      // The next round finds the saga overdue still, and asks again.
      failing = false;
      expect(await t.checkDeadlines()).toBe(1);
      expect(published).toEqual([
        expect.objectContaining({ sagaId: 'stuck-1', requestedBy: 'sagaflow-tracker' }),
      ]);
      expect((await views.view('stuck-1'))?.status).toBe('compensating');
      // Asked once: a later round finds nothing overdue.
      expect(await t.checkDeadlines()).toBe(0);
      expect(published).toHaveLength(1);
      await t.stop();
    });

    it('asks for the compensation of a step that completes after the request, which could not list it', async () => {
      const views = new MemorySagaViewStore();
      const published: SagaCompensationRequested[] = [];
      const { tracker: t, deliver } = await compensating(views, (request) => {
        published.push(request as SagaCompensationRequested);
        return Promise.resolve();
      });
      await deliver(event('late-1', 'OrderCreated'));
      // Asked for while the reservation is in flight: nothing done to list.
      await t.requestCompensation('late-1', {
        at: new Date().toISOString(),
        by: 'op',
        reason: 'r',
      });
      expect(published.map((r) => r.steps)).toEqual([[]]);
      // The reservation lands after all: its compensation is asked for too.
      await deliver(event('late-1', 'StockReserved'));
      expect(published.map((r) => r.steps)).toEqual([
        [],
        [
          {
            step: 'reserve-stock',
            participant: 'inventory',
            entityType: 'orders.order',
            entityId: 'late-1',
          },
        ],
      ]);
      expect(published[1]).toMatchObject({ sagaId: 'late-1', requestedBy: 'op', reason: 'r' });
      await t.stop();
    });

    it('refuses to compensate a saga that has ended, reading its timeline afresh', async () => {
      const views = new MemorySagaViewStore();
      const published: unknown[] = [];
      const { tracker: t, deliver } = await compensating(views, (request) => {
        published.push(request);
        return Promise.resolve();
      });
      await deliver(event('ended-1', 'OrderCreated'));
      // What an admin saw a moment ago: the saga running.
      expect((await views.view('ended-1'))?.status).toBe('running');
      await deliver(event('ended-1', 'OrderApproved'));
      const request = { at: new Date().toISOString(), by: 'op', reason: 'customer called' };
      await expect(t.requestCompensation('ended-1', request)).rejects.toMatchObject({
        code: 'SAGA_ENDED',
      });
      expect(published).toEqual([]);
      expect(await views.compensationRequest('ended-1')).toBeUndefined();
      await t.stop();
    });
  });
});
