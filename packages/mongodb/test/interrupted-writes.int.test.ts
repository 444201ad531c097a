import type { Commit, TimelineEntry } from '@sagaflow/core';
import { testEnv, uniqueName } from '@sagaflow/testing';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoEntityStore, MongoSagaViewStore, MongoTimerStore } from '../src/index.js';
import { startCuttingProxy, type CuttingProxy } from './cutting-proxy.js';

/*
 * A write whose connection breaks before the database has it (the database stopping mid-request)
 * fails the call: the driver reports such an error of an unordered insertMany as a bulk write
 * error without write errors, which must not be taken for "only duplicates".
 */
let proxy: CuttingProxy;
let viaProxy: MongoClient;
let direct: MongoClient;
const databases: string[] = [];

beforeAll(async () => {
  proxy = await startCuttingProxy(testEnv().mongodbUrl);
  viaProxy = await new MongoClient(proxy.url).connect();
  direct = await new MongoClient(testEnv().mongodbUrl).connect();
});

afterAll(async () => {
  for (const name of databases) await direct.db(name).dropDatabase();
  await viaProxy.close();
  await direct.close();
  await proxy.close();
});

/** A fresh database, as the proxy's client and as a direct client see it. */
function fresh(label: string): { db: Db; truth: Db } {
  const name = uniqueName(label);
  databases.push(name);
  return { db: viaProxy.db(name), truth: direct.db(name) };
}

describe('a write cut off before the database has it', () => {
  it('fails an entity append, and nothing is taken as written', async () => {
    const { db, truth } = fresh('cut-append');
    const store = new MongoEntityStore(db);
    const type = 'cut.thing';
    await store.prepare(type);
    const commit: Commit<{ n: number }> = {
      entityType: type,
      entityId: 't-1',
      version: 1,
      state: { n: 1 },
      events: [],
      causationKey: 'first',
      committedAt: new Date().toISOString(),
    };
    proxy.cutNextInsertInto('cut_thing_commits');
    const cuts = proxy.cuts;
    await expect(store.append(commit)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      retriable: true,
    });
    expect(proxy.cuts).toBe(cuts + 1);
    expect(await truth.collection('cut_thing_commits').countDocuments({})).toBe(0);
    // The store does not believe it either: a load finds nothing, and the append can be made.
    expect(await store.load(type, 't-1')).toBeUndefined();
    await expect(store.append(commit)).resolves.toEqual({ status: 'appended' });
    expect(await store.load(type, 't-1')).toEqual({ state: { n: 1 }, version: 1 });
  });

  it('fails scheduling a timer', async () => {
    const { db, truth } = fresh('cut-timer');
    const store = new MongoTimerStore(db);
    await store.prepare();
    const timer = { id: 'w-1@1|x', owner: 'o', workflowId: 'w-1', dueAt: '2026-01-01T00:00:00Z' };
    proxy.cutNextInsertInto('sagaflow_timers');
    await expect(store.schedule(timer)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(await truth.collection('sagaflow_timers').countDocuments({})).toBe(0);
    await store.schedule(timer);
    expect(await store.next('o')).toEqual(timer);
  });

  it('fails recording saga events', async () => {
    const { db, truth } = fresh('cut-entries');
    const store = new MongoSagaViewStore(db);
    await store.prepare();
    const entry: TimelineEntry = {
      eventId: 'e-1',
      type: 'Started',
      participant: 'p',
      entityType: 'cut.thing',
      entityId: 't-1',
      topic: 'cut.thing.events',
      partition: 0,
      offset: '0',
      occurredAt: '2026-01-01T00:00:00.000Z',
      keyFields: {},
    };
    proxy.cutNextInsertInto('sagaflow_saga_entries');
    await expect(store.recordEntries([{ sagaId: 's-1', entry }])).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect(await truth.collection('sagaflow_saga_entries').countDocuments({})).toBe(0);
    const recorded = await store.recordEntries([{ sagaId: 's-1', entry }]);
    expect(recorded.get('s-1')?.recorded).toEqual(['e-1']);
    expect(await store.entries('s-1')).toEqual([entry]);
  });
});
