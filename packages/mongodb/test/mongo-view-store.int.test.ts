import { checkViewQuery, type ViewTable } from '@sagaflow/core';
import { viewStoreContract } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { MongoViewStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('views');
viewStoreContract('MongoViewStore', () => new MongoViewStore(freshDatabase()));

describe('MongoViewStore after a writer stopped halfway', () => {
  it('finds a revision written without its document, and brings the document up to date', async () => {
    const db = freshDatabase();
    const store = new MongoViewStore(db);
    const table: ViewTable = { view: 'orders', version: 1, fields: { status: 'string' } };
    await store.prepare(table);
    const first = {
      key: 'o-1',
      doc: { status: 'NEW' },
      revision: 1,
      positions: { 'orders.events/0': '4' },
      recent: ['e-1'],
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    expect(await store.write(table, first)).toBe(true);
    // The writer of revision 2 stored its revision and stopped before it replaced the document.
    await db.collection('sagaflow_view_orders_v1_revisions').insertOne({
      _id: 'o-1#2' as never,
      key: 'o-1',
      doc: JSON.stringify({ status: 'PAID' }),
      rev: 2,
      pos: [{ p: 'orders.events/0', o: '7' }],
      recent: ['e-1', 'e-2'],
      at: '2026-01-01T00:00:01.000Z',
    });
    const query = checkViewQuery(table, { where: { status: 'PAID' } });
    expect((await store.query(table, query)).items).toEqual([]);
    expect(await store.get(table, 'o-1')).toEqual({
      key: 'o-1',
      doc: { status: 'PAID' },
      revision: 2,
      positions: { 'orders.events/0': '7' },
      recent: ['e-1', 'e-2'],
      updatedAt: '2026-01-01T00:00:01.000Z',
    });
    expect((await store.query(table, query)).items).toEqual([
      { key: 'o-1', doc: { status: 'PAID' } },
    ]);
    // The next writer follows revision 2, not the document's old revision.
    expect(await store.write(table, { ...first, revision: 2 })).toBe(false);
    expect(await store.write(table, { ...first, doc: { status: 'SHIPPED' }, revision: 3 })).toBe(
      true,
    );
  });
});
