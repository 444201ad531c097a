import {
  defineView,
  isSagaflowError,
  SagaflowService,
  ViewProjector,
  type ReceivedEvent,
  type ViewStore,
} from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import {
  MemoryBus,
  MemoryEntityStore,
  MemorySerde,
  MemoryViewStore,
  waitFor,
} from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { balances, type Balance } from '../fixtures/balance-views.js';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';

let offsets = 0;
/** A `Deposited` event as a processor receives it. */
const deposited = (
  accountId: string,
  amount: number,
  at: { partition?: number; offset?: number } = {},
): ReceivedEvent => {
  offsets += 1;
  return {
    eventId: `e-${offsets}`,
    type: 'Deposited',
    entityType: 'views.account',
    entityId: accountId,
    version: offsets,
    sagaId: `s-${offsets}`,
    causationId: `c-${offsets}`,
    service: 'accounts',
    occurredAt: new Date().toISOString(),
    payload: { accountId, amount },
    headers: {},
    topic: 'views.account.events',
    partition: at.partition ?? 0,
    offset: String(at.offset ?? offsets),
  };
};

describe('A view projector', () => {
  it('applies each event once, however often and in whatever order of partitions it comes again', async () => {
    const store = new MemoryViewStore();
    const projector = new ViewProjector(balances('views'), store);
    const first = deposited('acc-1', 10, { partition: 0, offset: 5 });
    const second = deposited('acc-1', 20, { partition: 1, offset: 3 });
    await projector.apply(first);
    await projector.apply(second);
    // Redelivered after a crash: its own, and an earlier offset of the same partition.
    await projector.apply(first);
    await projector.apply({ ...deposited('acc-1', 99, { partition: 0, offset: 4 }) });
    await new ViewProjector(balances('views'), store).apply(second);
    const record = await store.get(projector.table, 'acc-1');
    expect(record).toMatchObject({
      doc: { accountId: 'acc-1', balance: 30, deposits: 2 },
      revision: 2,
      positions: { 'views.account.events/0': '5', 'views.account.events/1': '3' },
      recent: [first.eventId, second.eventId],
    });
  });

  it('loses no event when processes apply events to one document side by side', async () => {
    const store = new MemoryViewStore();
    const projectors = [1, 2, 3].map(() => new ViewProjector(balances('views'), store));
    const events = Array.from({ length: 30 }, (_, i) =>
      deposited('acc-1', 1, { partition: i % 3, offset: 100 + i }),
    );
    // Each process applies its partition's events in order, the three side by side.
    await Promise.all(
      projectors.map(async (projector, p) => {
        for (const event of events.filter((e) => e.partition === p)) await projector.apply(event);
      }),
    );
    const record = await store.get(projectors[0]!.table, 'acc-1');
    expect(record).toMatchObject({ doc: { balance: 30, deposits: 30 }, revision: 30 });
  });

  it('refuses an event its code cannot apply, naming the view, the event and why', async () => {
    const store = new MemoryViewStore();
    const bad = (
      apply: (doc: Balance) => unknown,
      key = (e: ReceivedEvent) => e.entityId as unknown,
    ) =>
      new ViewProjector(
        defineView<Balance>({
          ...balances('views'),
          key: key as (e: ReceivedEvent) => string,
          apply: apply as (doc: Balance) => Balance,
        }),
        store,
      );
    const event = deposited('acc-1', 1);
    const refusal = async (projector: ViewProjector) => {
      const error: unknown = await projector.apply(event).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSagaflowError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toContain(
        `Deposited ${event.eventId} cannot be applied to the view balances v1`,
      );
      return (error as Error).message;
    };
    expect(
      await refusal(
        bad(() => {
          throw new Error('no such account');
        }),
      ),
    ).toMatch(/its apply threw: no such account$/);
    expect(await refusal(bad(() => null))).toMatch(/its apply must return an object \(got null\)$/);
    expect(await refusal(bad((doc) => ({ ...doc, balance: '12' })))).toMatch(
      /its apply returned doc\.balance must be a number \(got "12"\)$/,
    );
    expect(
      await refusal(
        bad(
          (doc) => doc,
          () => 42,
        ),
      ),
    ).toMatch(/its key must be a string of 1 to 500 characters \(got 42\)$/);
    expect(await store.get(bad((doc) => doc).table, 'acc-1')).toBeUndefined();
  });

  it('refuses bad definitions, naming the field', () => {
    const good = balances('views');
    const cases: [Partial<typeof good>, RegExp][] = [
      [{ name: 'Balances' }, /^name must be lower-case words joined by '-'/],
      [{ version: 0 }, /^version must be a positive integer \(got 0\)/],
      [{ topics: [] }, /^topics must name at least one topic/],
      [{ apply: undefined as never }, /^apply must be a function/],
      [
        { fields: { total: 'money' as never } },
        /^fields\.total must be one of string, number, boolean \(got 'money'\)/,
      ],
      [{ fields: { 'a.b': 'string' } }, /^fields\.a\.b must be a letter then letters, digits or _/],
    ];
    for (const [change, message] of cases) {
      expect(() => defineView({ ...good, ...change })).toThrow(message);
    }
  });
});

describe('A service with views (in memory)', () => {
  const start = async (
    domain: string,
    views: ReturnType<typeof balances>[],
    shared: { bus?: MemoryBus; viewStore?: ViewStore; store?: MemoryEntityStore } = {},
  ) => {
    const { account } = demoDomain(domain);
    const bus = shared.bus ?? new MemoryBus();
    const viewStore = shared.viewStore ?? new MemoryViewStore();
    const service = new SagaflowService({
      name: 'accounts',
      store: shared.store ?? new MemoryEntityStore(),
      bus,
      serde: new MemorySerde(await loadSchemaCatalog(demoSchemasDir)),
      entities: [account],
      views,
      viewStore,
    });
    await service.start();
    return { service, account, bus, viewStore };
  };

  it('keeps a view of its events, read by key and queried by its fields, waiting for an event when asked', async () => {
    const { service, account } = await start('views-read', [balances('views-read')]);
    try {
      const results = [];
      for (let n = 1; n <= 12; n += 1) {
        results.push(
          await service.execute(
            account,
            `acc-${n % 3}`,
            'Deposit',
            { amount: n * 5 },
            {
              causationKey: `d${n}`,
            },
          ),
        );
      }
      const last = results.at(-1)!;
      const eventId = last.status === 'committed' ? last.events[0]!.eventId : '';
      const reader = service.view<Balance>('balances');
      // acc-0 took the 3rd, 6th, 9th and 12th deposits: the last one is the event waited for.
      expect(await reader.get('acc-0', { after: eventId, waitMs: 5000 })).toEqual({
        accountId: 'acc-0',
        balance: 5 * (3 + 6 + 9 + 12),
        deposits: 4,
        tier: 'gold',
      });
      await waitFor(async () => (await reader.get('acc-1'))?.deposits === 4, {
        timeoutMs: 5000,
        description: 'acc-1 has its 4 deposits',
      });
      await waitFor(async () => (await reader.get('acc-2'))?.deposits === 4, {
        timeoutMs: 5000,
        description: 'acc-2 has its 4 deposits',
      });
      expect(await reader.get('acc-9')).toBeUndefined();
      const gold = await reader.query({
        where: { tier: 'gold' },
        orderBy: 'balance',
        direction: 'desc',
      });
      expect(gold.items.map((i) => [i.key, i.doc.balance])).toEqual([
        ['acc-0', 150],
        ['acc-2', 130],
        ['acc-1', 110],
      ]);
      const page = await reader.query({ orderBy: 'balance', limit: 2 });
      expect(page.items.map((i) => i.key)).toEqual(['acc-1', 'acc-2']);
      const rest = await reader.query({ orderBy: 'balance', limit: 2, cursor: page.next! });
      expect(rest).toMatchObject({
        items: [{ key: 'acc-0', doc: { balance: 150 } }],
        next: null,
      });
      await expect(
        reader.get('acc-0', { after: 'no-such-event', waitMs: 50 }),
      ).rejects.toMatchObject({
        code: 'VIEW_BEHIND',
        retriable: true,
        message: "the view balances v1 has not applied event no-such-event to 'acc-0' within 50 ms",
      });
    } finally {
      await service.stop();
    }
  });

  it('refuses a bad query or read, naming the field', async () => {
    const { service } = await start('views-bad', [balances('views-bad')]);
    try {
      const reader = service.view<Balance>('balances');
      const cases: [Promise<unknown>, RegExp][] = [
        [
          reader.query({ where: { owner: 'x' } }),
          /^where\.owner names 'owner', which is not a query field of the view balances \(fields: balance, deposits, tier\)/,
        ],
        [
          reader.query({ where: { balance: '10' } }),
          /^where\.balance must be a number \(got "10"\)/,
        ],
        [
          reader.query({ where: { balance: { above: 1 } as never } }),
          /^where\.balance must be a value or a range of gt, gte, lt, lte \(got 'above'\)/,
        ],
        [
          reader.query({ orderBy: 'accountId' }),
          /^orderBy names 'accountId', which is not a query field/,
        ],
        [reader.query({ limit: 0 }), /^limit must be an integer from 1 to 1000 \(got 0\)/],
        [reader.query({ direction: 'up' as never }), /^direction must be 'asc' or 'desc'/],
        [
          reader.query({ cursor: 'nonsense' }),
          /^cursor is not the next of a previous page of this query/,
        ],
        [reader.get(''), /^key must be a non-empty string/],
        [reader.get('acc-1', { waitMs: -1 }), /^waitMs must be a number ≥ 0/],
      ];
      for (const [attempt, message] of cases) {
        const error: unknown = await attempt.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isSagaflowError(error, 'INVALID_ARGUMENT')).toBe(true);
        expect((error as Error).message).toMatch(message);
      }
      expect(() => service.view('ledger')).toThrow(
        /^name names no view here \(got 'ledger'; views: balances\)/,
      );
    } finally {
      await service.stop();
    }
  });

  it('rebuilds a new version beside the old one, which is read until the new one has caught up', async () => {
    const bus = new MemoryBus();
    const store = new MemoryEntityStore();
    const viewStore = new MemoryViewStore();
    const first = await start('views-rebuild', [balances('views-rebuild')], {
      bus,
      store,
      viewStore,
    });
    for (let n = 1; n <= 20; n += 1) {
      await first.service.execute(
        first.account,
        `acc-${n % 4}`,
        'Deposit',
        { amount: n },
        {
          causationKey: `d${n}`,
        },
      );
    }
    const v1 = first.service.view<Balance>('balances');
    await waitFor(async () => (await viewStore.activeVersion('balances')) === 1, {
      timeoutMs: 5000,
      description: 'version 1 caught up',
    });
    const all = async (reader: typeof v1) =>
      (await reader.query({ limit: 100 })).items.map((i) => [i.key, i.doc]);
    const incremental = await waitFor(
      async () => {
        const docs = await all(v1);
        const deposits = docs.reduce((sum, [, doc]) => sum + (doc as Balance).deposits, 0);
        return deposits === 20 ? docs : undefined;
      },
      { timeoutMs: 5000, description: 'version 1 applied the 20 deposits' },
    );
    expect(incremental).toHaveLength(4);
    await first.service.stop();
    // Version 2 counts each deposit twice; it runs beside version 1 from the first event on.
    const second = await start(
      'views-rebuild',
      [balances('views-rebuild'), balances('views-rebuild', 2, 2)],
      { bus, store, viewStore },
    );
    try {
      const reader = second.service.view<Balance>('balances');
      await waitFor(async () => (await reader.version()) === 2, {
        timeoutMs: 10_000,
        description: 'version 2 read',
      });
      // What version 1 built, counted twice (the accounts end at 60, 45, 50 and 55).
      const doubled = incremental.map(([key, doc]) => {
        const balance = 2 * (doc as Balance).balance;
        return [key, { ...(doc as Balance), balance, ...(balance >= 100 ? { tier: 'gold' } : {}) }];
      });
      expect(await all(reader)).toEqual(doubled);
      expect(doubled.filter(([, doc]) => (doc as Balance).tier === 'gold')).toHaveLength(3);
    } finally {
      await second.service.stop();
    }
  });
});
