import type { SagaView, SagaViewStore, TimelineEntry } from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

const entry = (eventId: string, second: number): TimelineEntry => ({
  eventId,
  type: 'OrderCreated',
  participant: 'order-service',
  entityType: 'orders.order',
  entityId: 'o-1',
  topic: 'orders.order.events',
  partition: 1,
  offset: String(second),
  occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
  keyFields: { orderId: 'o-1', total: 1999, express: false, note: null },
});

const view = (sagaId: string, startedAt: string, extra: Partial<SagaView> = {}): SagaView => ({
  sagaId,
  type: 'order-placement',
  status: 'running',
  startedAt,
  updatedAt: startedAt,
  steps: [{ name: 'reserve', participant: 'inventory-service', status: 'active', startedAt }],
  timeline: [entry(`${sagaId}-e1`, 1)],
  ...extra,
});

/**
 * The behaviour every saga view store must have, run against the in-memory and the MongoDB one.
 * `sibling` gives another store on the same data as the one given (another process's, where the
 * store keeps its data outside the process); without it, the store itself stands in.
 */
export function sagaViewStoreContract(
  name: string,
  makeStore: () => SagaViewStore | Promise<SagaViewStore>,
  sibling: (store: SagaViewStore) => SagaViewStore = (store) => store,
) {
  describe(`SagaViewStore contract: ${name}`, () => {
    const setup = async () => {
      const store = await makeStore();
      await store.prepare();
      return { store, id: uniqueName('saga') };
    };
    const ids = (recorded: { readonly entries: readonly TimelineEntry[] } | undefined) =>
      recorded?.entries.map((e) => e.eventId).sort();

    it('records events of several sagas at once, each event once', async () => {
      const { store, id } = await setup();
      const [a, b] = [`${id}-a`, `${id}-b`];
      const first = await store.recordEntries([
        { sagaId: a, entry: entry('a1', 1) },
        { sagaId: b, entry: entry('b1', 2) },
        { sagaId: a, entry: entry('a2', 3) },
        { sagaId: a, entry: entry('a1', 1) },
      ]);
      expect(first.get(a)?.recorded).toEqual(['a1', 'a2']);
      expect(ids(first.get(a))).toEqual(['a1', 'a2']);
      expect(first.get(b)).toEqual({ recorded: ['b1'], entries: [entry('b1', 2)] });
      const again = await store.recordEntries([
        { sagaId: a, entry: entry('a2', 3) },
        { sagaId: a, entry: entry('a3', 4) },
        { sagaId: b, entry: entry('b1', 2) },
      ]);
      expect(again.get(a)?.recorded).toEqual(['a3']);
      expect(ids(again.get(a))).toEqual(['a1', 'a2', 'a3']);
      expect(again.get(b)?.recorded).toEqual([]);
      expect((await store.entries(a)).find((e) => e.eventId === 'a3')).toEqual(entry('a3', 4));
      expect((await store.recordEntries([])).size).toBe(0);
    });

    it("records a batch beside another writer's events of the same sagas", async () => {
      const { store, id } = await setup();
      const other = sibling(store);
      const [a, b] = [`${id}-a`, `${id}-b`];
      await store.recordEntries([{ sagaId: a, entry: entry('a1', 1) }]);
      // Another process records events this one does not know of, one of them in the batch.
      await other.recordEntry(a, entry('a2', 2));
      await other.recordEntry(a, entry('a3', 3));
      const batch = await store.recordEntries([
        { sagaId: a, entry: entry('a3', 3) },
        { sagaId: a, entry: entry('a4', 4) },
        { sagaId: b, entry: entry('b1', 5) },
      ]);
      expect(batch.get(a)?.recorded).toEqual(['a4']);
      expect(ids(batch.get(a))).toEqual(['a1', 'a2', 'a3', 'a4']);
      expect(batch.get(b)?.recorded).toEqual(['b1']);
      expect((await other.entries(a)).map((e) => e.eventId).sort()).toEqual([
        'a1',
        'a2',
        'a3',
        'a4',
      ]);
    });

    it('reads the compensation requests of several sagas at once', async () => {
      const { store, id } = await setup();
      const request = { at: '2026-01-01T00:00:00.000Z', by: 'ops-1', reason: 'cancelled' };
      await store.requestCompensation(`${id}-a`, request);
      await sibling(store).requestCompensation(`${id}-b`, { ...request, by: 'ops-2' });
      const found = await store.compensationRequests([`${id}-a`, `${id}-b`, `${id}-none`]);
      expect(Object.fromEntries(found)).toEqual({
        [`${id}-a`]: request,
        [`${id}-b`]: { ...request, by: 'ops-2' },
      });
      expect((await store.compensationRequests([`${id}-none`])).size).toBe(0);
      expect((await store.compensationRequests([])).size).toBe(0);
    });

    it('writes several views at once, keeping their deadlines', async () => {
      const { store, id } = await setup();
      const start = '2026-01-01T00:00:00.000Z';
      const due = { deadlineAt: '2026-01-01T00:00:10.000Z' };
      const [a, b] = [`${id}-a`, `${id}-b`];
      await store.writeViews([view(a, start, due), view(b, start, { status: 'completed' })]);
      expect(await store.view(a)).toEqual(view(a, start, due));
      expect(await store.view(b)).toEqual(view(b, start, { status: 'completed' }));
      const ours = async () =>
        (await store.overdue('2026-01-01T00:00:30.000Z', 100))
          .map((v) => v.sagaId)
          .filter((s) => s.startsWith(id));
      expect(await ours()).toEqual([a]);
      await store.writeViews([
        view(a, start, { ...due, status: 'completed' }),
        view(b, start, due),
      ]);
      expect(await ours()).toEqual([b]);
      expect((await store.view(a))?.status).toBe('completed');
      await store.writeViews([]);
    });

    it('records each event of a saga once', async () => {
      const { store, id } = await setup();
      expect(await store.recordEntry(id, entry('e1', 1))).toEqual({
        recorded: true,
        entries: [entry('e1', 1)],
      });
      expect(await store.recordEntry(id, entry('e1', 1))).toEqual({
        recorded: false,
        entries: [entry('e1', 1)],
      });
      const second = await store.recordEntry(id, entry('e2', 2));
      expect(second.recorded).toBe(true);
      // What recording read is the whole timeline, the new event included.
      expect(second.entries.map((e) => e.eventId).sort()).toEqual(['e1', 'e2']);
      const entries = await store.entries(id);
      expect(entries.map((e) => e.eventId).sort()).toEqual(['e1', 'e2']);
      expect(entries.find((e) => e.eventId === 'e1')).toEqual(entry('e1', 1));
      expect(await store.entries(`${id}-none`)).toEqual([]);
    });

    it('keeps the first compensation request', async () => {
      const { store, id } = await setup();
      const first = { at: '2026-01-01T00:00:00.000Z', by: 'ops-1', reason: 'cancelled' };
      expect(await store.requestCompensation(id, first)).toBe(true);
      expect(await store.requestCompensation(id, { ...first, by: 'ops-2' })).toBe(false);
      expect(await store.compensationRequest(id)).toEqual(first);
      expect(await store.compensationRequest(`${id}-none`)).toBeUndefined();
    });

    it('writes and reads views whole, optional fields absent', async () => {
      const { store, id } = await setup();
      const v = view(id, '2026-01-01T00:00:00.000Z', {
        deadlineAt: '2026-01-01T00:00:10.000Z',
        currentStep: 'reserve',
      });
      await store.writeView(v);
      expect(await store.view(id)).toEqual(v);
      const ended = view(id, '2026-01-01T00:00:00.000Z', {
        status: 'completed',
        endedAt: '2026-01-01T00:00:05.000Z',
      });
      await store.writeView(ended);
      expect(await store.view(id)).toEqual(ended);
      const untyped = { ...view(`${id}-u`, '2026-01-01T00:00:00.000Z'), type: undefined };
      await store.writeView(untyped);
      expect(await store.view(`${id}-u`)).toEqual(untyped);
    });

    it('finds running sagas past their deadline', async () => {
      const { store, id } = await setup();
      await store.writeView(
        view(`${id}-due`, '2026-01-01T00:00:00.000Z', { deadlineAt: '2026-01-01T00:00:10.000Z' }),
      );
      await store.writeView(
        view(`${id}-later`, '2026-01-01T00:00:00.000Z', { deadlineAt: '2026-01-01T00:01:00.000Z' }),
      );
      await store.writeView(
        view(`${id}-done`, '2026-01-01T00:00:00.000Z', {
          status: 'completed',
          deadlineAt: '2026-01-01T00:00:05.000Z',
        }),
      );
      const due = (await store.overdue('2026-01-01T00:00:30.000Z', 100)).map((v) => v.sagaId);
      expect(due.filter((s) => s.startsWith(id))).toEqual([`${id}-due`]);
    });

    it('forgets a deadline once the saga ends or moves it', async () => {
      const { store, id } = await setup();
      const start = '2026-01-01T00:00:00.000Z';
      await store.writeView(view(`${id}-ends`, start, { deadlineAt: '2026-01-01T00:00:10.000Z' }));
      await store.writeView(view(`${id}-moves`, start, { deadlineAt: '2026-01-01T00:00:10.000Z' }));
      await store.writeView(
        view(`${id}-ends`, start, { status: 'completed', deadlineAt: '2026-01-01T00:00:10.000Z' }),
      );
      await store.writeView(view(`${id}-moves`, start, { deadlineAt: '2026-01-01T00:02:00.000Z' }));
      const ours = async (now: string) =>
        (await store.overdue(now, 100)).map((v) => v.sagaId).filter((s) => s.startsWith(id));
      expect(await ours('2026-01-01T00:00:30.000Z')).toEqual([]);
      expect(await ours('2026-01-01T00:03:00.000Z')).toEqual([`${id}-moves`]);
    });

    it('queries by status, type, time and key, newest first, page by page', async () => {
      const { store, id } = await setup();
      const type = uniqueName('type');
      for (let i = 0; i < 5; i += 1) {
        const startedAt = `2026-02-0${i + 1}T00:00:00.000Z`;
        await store.writeView(
          view(`${id}-${i}`, startedAt, {
            type,
            status: i % 2 === 0 ? 'completed' : 'stuck',
            businessKey: `order-${id}-${i}`,
            // The completed ones took 1, 3 and 5 seconds.
            ...(i % 2 === 0
              ? { endedAt: new Date(Date.parse(startedAt) + (i + 1) * 1000).toISOString() }
              : {}),
          }),
        );
      }
      // The latest ended first; of this type only.
      expect(await store.durations({ type, limit: 10 })).toEqual([5000, 3000, 1000]);
      expect(await store.durations({ type, limit: 2 })).toEqual([5000, 3000]);
      expect(await store.durations({ type: uniqueName('none'), limit: 10 })).toEqual([]);
      const ids = (views: SagaView[]) => views.map((v) => v.sagaId.slice(-1));
      const first = await store.query({ type, limit: 2 });
      expect(ids(first.views)).toEqual(['4', '3']);
      const second = await store.query({ type, limit: 2, after: first.next! });
      expect(ids(second.views)).toEqual(['2', '1']);
      const third = await store.query({ type, limit: 2, after: second.next! });
      expect(ids(third.views)).toEqual(['0']);
      expect(third.next).toBeUndefined();
      expect(ids((await store.query({ type, status: 'stuck', limit: 10 })).views)).toEqual([
        '3',
        '1',
      ]);
      expect(
        ids(
          (
            await store.query({
              type,
              since: '2026-02-02T00:00:00.000Z',
              until: '2026-02-04T00:00:00.000Z',
              limit: 10,
            })
          ).views,
        ),
      ).toEqual(['2', '1']);
      const counts = (await store.counts()).filter((c) => c.type === type);
      expect(counts.sort((a, b) => a.status.localeCompare(b.status))).toEqual([
        { type, status: 'completed', count: 3 },
        { type, status: 'stuck', count: 2 },
      ]);
      expect(ids((await store.query({ q: `order-${id}-2`, limit: 10 })).views)).toEqual(['2']);
      expect(ids((await store.query({ q: `${id}-3`, limit: 10 })).views)).toEqual(['3']);
      await expect(store.query({ type, limit: 2, after: 'garbage' })).rejects.toThrow(
        /after is not a cursor/,
      );
    });
  });
}
