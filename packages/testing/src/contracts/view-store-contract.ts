import {
  checkViewQuery,
  type ViewQuery,
  type ViewRecord,
  type ViewStore,
  type ViewTable,
} from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

interface Order {
  readonly orderId: string;
  readonly status?: string;
  readonly total?: number;
  readonly paid?: boolean;
}

const record = (key: string, revision: number, doc: Order): ViewRecord<Order> => ({
  key,
  doc,
  revision,
  positions: { 'orders/0': String(revision * 10) },
  recent: [`e-${key}-${revision}`],
  updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, revision)).toISOString(),
});

/** The behaviour every view store must have, run against the in-memory and the MongoDB one. */
export function viewStoreContract(name: string, makeStore: () => ViewStore | Promise<ViewStore>) {
  describe(`ViewStore contract: ${name}`, () => {
    const setup = async (version = 1) => {
      const store = await makeStore();
      const table: ViewTable = {
        view: uniqueName('orders').toLowerCase().replaceAll('_', '-'),
        version,
        fields: { status: 'string', total: 'number', paid: 'boolean' },
      };
      await store.prepare(table);
      await store.prepare(table);
      /** Writes each document as its first revision. */
      const seed = async (docs: readonly Order[]) => {
        for (const doc of docs)
          expect(await store.write(table, record(doc.orderId, 1, doc))).toBe(true);
      };
      const keys = async (query: ViewQuery) => {
        const page = await store.query(table, checkViewQuery(table, query));
        return { keys: page.items.map((i) => i.key), next: page.next };
      };
      return { store, table, seed, keys };
    };

    it('writes each revision once, each after the one before, and reads the latest', async () => {
      const { store, table } = await setup();
      expect(await store.get(table, 'o-1')).toBeUndefined();
      expect(await store.write(table, record('o-1', 2, { orderId: 'o-1' }))).toBe(false);
      expect(await store.write(table, record('o-1', 1, { orderId: 'o-1', status: 'NEW' }))).toBe(
        true,
      );
      expect(await store.write(table, record('o-1', 1, { orderId: 'o-1', status: 'X' }))).toBe(
        false,
      );
      expect(await store.write(table, record('o-1', 3, { orderId: 'o-1', status: 'X' }))).toBe(
        false,
      );
      const second = record('o-1', 2, { orderId: 'o-1', status: 'PAID', total: 12.5, paid: true });
      expect(await store.write(table, second)).toBe(true);
      expect(await store.get(table, 'o-1')).toEqual(second);
      expect(await store.get(table, 'o-2')).toBeUndefined();
    });

    it('lets one of several writers of the same revision win, and keeps what it wrote', async () => {
      const { store, table } = await setup();
      await store.write(table, record('o-1', 1, { orderId: 'o-1', total: 0 }));
      const tries = Array.from({ length: 6 }, (_, i) =>
        record('o-1', 2, { orderId: 'o-1', total: i + 1 }),
      );
      const won = await Promise.all(tries.map((r) => store.write(table, r)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = tries[won.indexOf(true)]!;
      expect(await store.get(table, 'o-1')).toEqual(winner);
      const page = await store.query(
        table,
        checkViewQuery(table, { where: { total: winner.doc.total! } }),
      );
      expect(page.items).toEqual([{ key: 'o-1', doc: winner.doc }]);
    });

    it('keeps each view and each version apart, and reads the version made active', async () => {
      const one = await setup(1);
      const two: ViewTable = { ...one.table, version: 2 };
      const other: ViewTable = { ...one.table, view: `${one.table.view}-other` };
      await one.store.prepare(two);
      await one.store.prepare(other);
      await one.seed([{ orderId: 'o-1', status: 'NEW' }]);
      expect(await one.store.get(two, 'o-1')).toBeUndefined();
      expect(await one.store.get(other, 'o-1')).toBeUndefined();
      expect((await one.store.query(two, checkViewQuery(two))).items).toEqual([]);
      expect(await one.store.activeVersion(one.table.view)).toBeUndefined();
      await one.store.activate(one.table.view, 2);
      await one.store.activate(one.table.view, 1);
      expect(await one.store.activeVersion(one.table.view)).toBe(2);
      expect(await one.store.activeVersion(other.view)).toBeUndefined();
    });

    it('queries by equality and ranges of the query fields, the latest revision of each document', async () => {
      const { store, table, seed, keys } = await setup();
      await seed([
        { orderId: 'a', status: 'OPEN', total: 10, paid: false },
        { orderId: 'b', status: 'OPEN', total: 25, paid: true },
        { orderId: 'c', status: 'CLOSED', total: 25, paid: true },
        { orderId: 'd', status: 'OPEN', total: 40.5 },
        { orderId: 'e' },
      ]);
      await store.write(table, record('a', 2, { orderId: 'a', status: 'CLOSED', total: 10 }));
      expect((await keys({ where: { status: 'OPEN' } })).keys).toEqual(['b', 'd']);
      expect((await keys({ where: { status: 'CLOSED' } })).keys).toEqual(['a', 'c']);
      expect((await keys({ where: { total: { gte: 25 } } })).keys).toEqual(['b', 'c', 'd']);
      expect((await keys({ where: { total: { gt: 10, lt: 40.5 } } })).keys).toEqual(['b', 'c']);
      expect((await keys({ where: { total: { lte: 25 }, status: 'OPEN' } })).keys).toEqual(['b']);
      expect((await keys({ where: { paid: true } })).keys).toEqual(['b', 'c']);
      expect((await keys({ where: { paid: false } })).keys).toEqual([]);
      expect((await keys({ where: { status: 'NONE' } })).keys).toEqual([]);
      expect((await keys({})).keys).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect((await keys({ direction: 'desc' })).keys).toEqual(['e', 'd', 'c', 'b', 'a']);
    });

    it('orders by a field, ties by key, leaving out documents without it, in pages that cover each once', async () => {
      const { seed, keys } = await setup();
      const docs: Order[] = Array.from({ length: 23 }, (_, i) => ({
        orderId: `o-${String(i).padStart(2, '0')}`,
        ...(i % 7 === 6 ? {} : { total: i % 5 }),
        status: i % 2 === 0 ? 'OPEN' : 'CLOSED',
      }));
      await seed(docs);
      const withTotal = docs.filter((d) => d.total !== undefined);
      const ascending = [...withTotal]
        .sort((a, b) => a.total! - b.total! || (a.orderId < b.orderId ? -1 : 1))
        .map((d) => d.orderId);
      const pages = async (query: ViewQuery) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page += 1) {
          const { keys: got, next } = await keys({
            ...query,
            limit: 4,
            ...(cursor === undefined ? {} : { cursor }),
          });
          seen.push(...got);
          if (next === null) return seen;
          cursor = next;
        }
        throw new Error('more pages than documents');
      };
      expect(await pages({ orderBy: 'total' })).toEqual(ascending);
      expect(await pages({ orderBy: 'total', direction: 'desc' })).toEqual(
        [...ascending].reverse(),
      );
      expect(await pages({ orderBy: 'total', where: { status: 'OPEN' } })).toEqual(
        ascending.filter((k) => Number(k.slice(2)) % 2 === 0),
      );
      expect(await pages({})).toEqual(docs.map((d) => d.orderId));
      expect(await pages({ direction: 'desc', where: { total: { gte: 3 } } })).toEqual(
        withTotal
          .filter((d) => d.total! >= 3)
          .map((d) => d.orderId)
          .reverse(),
      );
      const whole = await keys({ orderBy: 'total', limit: ascending.length });
      expect(whole).toEqual({ keys: ascending, next: null });
    });
  });
}
