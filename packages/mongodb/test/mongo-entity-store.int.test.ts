import type { Commit } from '@sagaflow/core';
import { entityStoreContract, uniqueName } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { MongoEntityStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('store');
entityStoreContract('MongoEntityStore', () => new MongoEntityStore(freshDatabase()));

const TYPE = 'multi.counter';
const commitOf = (entityId: string, version: number): Commit<{ count: number }> => ({
  entityType: TYPE,
  entityId,
  version,
  state: { count: version },
  events: [],
  causationKey: `c${version}`,
  committedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, version)).toISOString(),
});

describe('MongoEntityStore, several processes on one database', () => {
  it('each finds the latest version the others wrote, though the head hint lags or its commits were compacted', async () => {
    const db = freshDatabase();
    // Two processes; the second keeps a single commit in memory, so that it must read.
    const a = new MongoEntityStore(db);
    const b = new MongoEntityStore(db, { cachedCommits: 1 });
    await a.prepare(TYPE);
    await b.prepare(TYPE);
    const id = uniqueName('entity');
    // The head hint moves every few versions: 11 commits leave it behind.
    for (let v = 1; v <= 11; v += 1)
      expect(await a.append(commitOf(id, v))).toEqual({ status: 'appended' });
    expect(await b.load(TYPE, id)).toEqual({ version: 11, state: { count: 11 } });
    // b knows version 11 and appends 12 and 13; a knows 11 and finds 13.
    await b.append(commitOf(id, 12));
    await b.append(commitOf(id, 13));
    expect(await a.load(TYPE, id)).toEqual({ version: 13, state: { count: 13 } });
    // A stale writer conflicts rather than overwriting.
    expect(await b.append(commitOf(id, 13))).toEqual({ status: 'conflict' });
    // a compacts everything but the latest; b, which knew version 13 only by a cached commit
    // since evicted, still finds the latest after a writes more.
    for (let v = 14; v <= 20; v += 1) await a.append(commitOf(id, v));
    await a.markPublished(
      TYPE,
      Array.from({ length: 20 }, (_, i) => commitOf(id, i + 1)),
    );
    const old = await a.compactable(TYPE, '2030-01-01T00:00:00.000Z', 100);
    expect(old.filter((c) => c.entityId === id)).toHaveLength(19);
    await a.deleteCommits(TYPE, old);
    await b.load(TYPE, uniqueName('other')); // evicts b's cached commit
    expect(await b.load(TYPE, id)).toEqual({ version: 20, state: { count: 20 } });
    // A third process, starting from the hint alone.
    const c = new MongoEntityStore(db);
    expect(await c.load(TYPE, id)).toEqual({ version: 20, state: { count: 20 } });
    expect(await c.append(commitOf(id, 20))).toEqual({ status: 'conflict' });
    expect(await c.append(commitOf(id, 21))).toEqual({ status: 'appended' });
    expect(await a.load(TYPE, id)).toEqual({ version: 21, state: { count: 21 } });
  });
});
