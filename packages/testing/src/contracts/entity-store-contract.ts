import {
  defineEntity,
  EntityService,
  replayOf,
  shardOf,
  type Commit,
  type EntityStore,
} from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

interface Counter {
  count: number;
  log: string[];
  nested: { flag: boolean; ratio: number; missing: null; tags: string[] };
}

const counter = defineEntity<
  Counter,
  { Add: { by: number; note: string } },
  { Added: { by: number; note: string } }
>({
  type: 'contract.counter',
  initialState: () => ({
    count: 0,
    log: [],
    nested: { flag: false, ratio: 0.5, missing: null, tags: [] },
  }),
  commands: { Add: (_state, { by, note }) => [{ type: 'Added', payload: { by, note } }] },
  evolve: (state, { payload }) => ({
    count: state.count + payload.by,
    log: [...state.log, payload.note],
    nested: { ...state.nested, flag: true, tags: [...state.nested.tags, payload.note] },
  }),
});

function commitOf(
  entityId: string,
  version: number,
  causationKey: string,
  type = counter.type,
): Commit<Counter> {
  return {
    entityType: type,
    entityId,
    version,
    state: {
      count: version,
      log: [],
      nested: { flag: true, ratio: 1.25, missing: null, tags: ['a', 'b'] },
    },
    events: [],
    causationKey,
    committedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, version)).toISOString(),
  };
}

/**
 * A ledger whose state grows with every entry (past any size a store keeps with every commit),
 * with an event that also sends a command: what a store may rebuild from events.
 */
const ledger = defineEntity<
  { total: number; entries: Record<string, string> },
  { Add: { key: string; amount: number } },
  { Added: { key: string; amount: number } }
>({
  type: 'contract.ledger',
  initialState: () => ({ total: 0, entries: {} }),
  commands: {
    Add: (_state, payload, { entityId }) => [
      { type: 'Added', payload },
      {
        type: 'Notify',
        payload: { key: payload.key },
        command: { commandId: `${entityId}-${payload.key}`, entityType: 'x', entityId: 'y' },
      },
    ],
  },
  evolve: (state, { payload }) => ({
    total: state.total + payload.amount,
    entries: { ...state.entries, [payload.key]: `${payload.key}:${'x'.repeat(60)}` },
  }),
});

/**
 * The behaviour every {@link EntityStore} must have. Run it against each implementation: the
 * in-memory one earns trust by passing the same tests as the real one. `sibling` gives another
 * store on the same data as the one given (another process's, where the store keeps its data
 * outside the process), prepared for nothing yet; without it, the store itself stands in.
 */
export function entityStoreContract(
  name: string,
  makeStore: () => EntityStore | Promise<EntityStore>,
  sibling: (store: EntityStore) => EntityStore = (store) => store,
) {
  describe(`EntityStore contract: ${name}`, () => {
    const setup = async () => {
      const store = await makeStore();
      await store.prepare(counter.type);
      return { store, id: uniqueName('entity') };
    };
    const serviceOn = (store: EntityStore) =>
      new EntityService({
        store,
        service: 'contract',
        maxAttempts: 100,
        backoff: { initialMs: 1, maxMs: 20, multiplier: 2 },
      });

    it('has nothing for an entity without commits', async () => {
      const { store, id } = await setup();
      expect(await store.load(counter.type, id)).toBeUndefined();
      expect(await store.unpublished(counter.type, 10)).toEqual([]);
    });

    it('appends a commit and loads its state and version, values intact', async () => {
      const { store, id } = await setup();
      const commit = commitOf(id, 1, 'k1');
      expect(await store.append(commit)).toEqual({ status: 'appended' });
      expect(await store.load(counter.type, id)).toEqual({ state: commit.state, version: 1 });
      expect(await store.append(commitOf(id, 2, 'k2'))).toEqual({ status: 'appended' });
      expect(await store.load(counter.type, id)).toMatchObject({ version: 2, state: { count: 2 } });
    });

    it('refuses a second commit of the same version as a conflict', async () => {
      const { store, id } = await setup();
      await store.append(commitOf(id, 1, 'k1'));
      expect(await store.append(commitOf(id, 1, 'other'))).toEqual({ status: 'conflict' });
      expect(await store.load(counter.type, id)).toMatchObject({ version: 1 });
    });

    it('refuses a second commit of the same causation key as a duplicate, returning the first', async () => {
      const { store, id } = await setup();
      const first = commitOf(id, 1, 'same');
      await store.append(first);
      const outcome = await store.append(commitOf(id, 2, 'same'));
      expect(outcome).toEqual({ status: 'duplicate', existing: first });
      expect(await store.load(counter.type, id)).toMatchObject({ version: 1 });
      // The key is per entity: another entity may use it.
      expect(await store.append(commitOf(`${id}-other`, 1, 'same'))).toEqual({
        status: 'appended',
      });
    });

    it('lets exactly one of many concurrent commits of one version win', async () => {
      const { store, id } = await setup();
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.append(commitOf(id, 1, `k${i}`))),
      );
      expect(outcomes.filter((o) => o.status === 'appended')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'conflict')).toHaveLength(11);
    });

    it('loses no command when many race on one entity (retry on fresh state)', async () => {
      const { store, id } = await setup();
      const service = serviceOn(store);
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          service.execute(counter, id, 'Add', { by: 1, note: `n${i}` }, { causationKey: `c${i}` }),
        ),
      );
      expect(results.every((r) => r.status === 'committed')).toBe(true);
      const snapshot = await store.load<Counter>(counter.type, id);
      expect(snapshot?.version).toBe(25);
      expect(snapshot?.state.count).toBe(25);
      expect(new Set(snapshot?.state.log)).toEqual(
        new Set(Array.from({ length: 25 }, (_, i) => `n${i}`)),
      );
    });

    it('applies a command redelivered concurrently exactly once', async () => {
      const { store, id } = await setup();
      const service = serviceOn(store);
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          service.execute(
            counter,
            id,
            'Add',
            { by: 5, note: 'once' },
            { causationKey: 'event-1#0' },
          ),
        ),
      );
      expect(results.filter((r) => r.status === 'committed')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(9);
      const versions = new Set(results.map((r) => (r.status === 'rejected' ? -1 : r.version)));
      expect(versions).toEqual(new Set([1]));
      expect(await store.load(counter.type, id)).toMatchObject({ version: 1, state: { count: 5 } });
    });

    it('lists unpublished commits oldest version first per entity, and forgets them once marked', async () => {
      const { store, id } = await setup();
      const a = `${id}-a`;
      const b = `${id}-b`;
      for (let v = 1; v <= 3; v += 1) {
        await store.append(commitOf(b, v, `b${v}`));
        await store.append(commitOf(a, v, `a${v}`));
      }
      const pending = await store.unpublished(counter.type, 100);
      const mine = pending.filter((c) => c.entityId === a || c.entityId === b);
      expect(mine.map((c) => `${c.entityId.slice(-1)}${c.version}`)).toEqual([
        'a1',
        'a2',
        'a3',
        'b1',
        'b2',
        'b3',
      ]);
      expect(mine[0]).toEqual(commitOf(a, 1, 'a1'));
      expect(await store.unpublished(counter.type, 2)).toHaveLength(2);
      const backlog = await store.outboxBacklog(counter.type);
      expect(backlog.pending).toBeGreaterThanOrEqual(6);
      expect(Date.parse(backlog.oldestAt ?? 'none')).toBeLessThanOrEqual(Date.now());

      await store.markPublished(counter.type, [
        commitOf(a, 1, 'a1'),
        commitOf(a, 2, 'a2'),
        commitOf(b, 1, 'b1'),
      ]);
      await store.markPublished(counter.type, [commitOf(a, 1, 'a1')]);
      const left = (await store.unpublished(counter.type, 100)).filter(
        (c) => c.entityId === a || c.entityId === b,
      );
      expect(left.map((c) => `${c.entityId.slice(-1)}${c.version}`)).toEqual(['a3', 'b2', 'b3']);
      expect((await store.outboxBacklog(counter.type)).pending).toBe(backlog.pending - 3);
    });

    it('keeps a silent commit (a state change without events) out of the outbox: it counts as published', async () => {
      const { store, id } = await setup();
      await store.append(commitOf(id, 1, 'k1'));
      const silent = { ...commitOf(id, 2, 'k2'), silent: true as const };
      expect(await store.append(silent)).toEqual({ status: 'appended' });
      expect(await store.load(counter.type, id)).toMatchObject({ version: 2 });
      const pending = (await store.unpublished(counter.type, 100)).filter((c) => c.entityId === id);
      expect(pending.map((c) => c.version)).toEqual([1]);
      expect(await store.isPublished(silent)).toBe(true);
      // A second silent commit with the same key is still a duplicate.
      expect((await store.append({ ...commitOf(id, 3, 'k2'), silent: true })).status).toBe(
        'duplicate',
      );
    });

    it("lists a shard's unpublished commits only, each entity in the shard that shardOf names", async () => {
      const { store, id } = await setup();
      const ids = Array.from({ length: 12 }, (_, i) => `${id}-${i}`);
      for (const entityId of ids) {
        await store.append(commitOf(entityId, 1, `${entityId}-1`));
        await store.append(commitOf(entityId, 2, `${entityId}-2`));
      }
      const count = 3;
      const seen: string[] = [];
      for (let index = 0; index < count; index += 1) {
        const pending = (
          await store.unpublished(counter.type, 100, { shard: { index, count } })
        ).filter((c) => ids.includes(c.entityId));
        for (const c of pending) expect(shardOf(c.entityId, count)).toBe(index);
        seen.push(...pending.map((c) => `${c.entityId}@${c.version}`));
      }
      expect(seen.sort()).toEqual(ids.flatMap((e) => [`${e}@1`, `${e}@2`]).sort());
      // The 12 ids fall in more than one shard.
      expect(new Set(ids.map((e) => shardOf(e, count))).size).toBeGreaterThan(1);
    });

    it('offers published commits that are not the latest for compaction, and forgets them', async () => {
      const { store, id } = await setup();
      const a = `${id}-a`;
      const b = `${id}-b`;
      for (let v = 1; v <= 4; v += 1) await store.append(commitOf(a, v, `a${v}`));
      await store.append(commitOf(b, 1, 'b1'));
      await store.markPublished(
        counter.type,
        [1, 2, 3].map((version) => commitOf(a, version, `a${version}`)),
      );
      await store.markPublished(counter.type, [commitOf(b, 1, 'b1')]);
      const later = '2030-01-01T00:00:00.000Z';
      const offered = (await store.compactable(counter.type, later, 100)).filter(
        (c) => c.entityId === a || c.entityId === b,
      );
      // v4 is unpublished; b's only commit is its latest.
      expect(offered.map((c) => `${c.entityId.slice(-1)}${c.version}`)).toEqual(['a1', 'a2', 'a3']);
      expect(await store.compactable(counter.type, commitOf(a, 2, '').committedAt, 100)).toEqual([
        commitOf(a, 1, 'a1'),
      ]);

      await store.deleteCommits(counter.type, [
        { entityId: a, version: 1 },
        { entityId: a, version: 2 },
      ]);
      expect(await store.load(counter.type, a)).toMatchObject({ version: 4 });
      expect(
        (await store.compactable(counter.type, later, 100)).filter((c) => c.entityId === a),
      ).toEqual([commitOf(a, 3, 'a3')]);
      // A forgotten commit's causation key no longer refuses a commit.
      expect(await store.append(commitOf(a, 5, 'a1'))).toEqual({ status: 'appended' });
      expect(await store.append(commitOf(a, 6, 'a3'))).toMatchObject({ status: 'duplicate' });
    });

    it('keeps where a message-caused commit came from', async () => {
      const { store, id } = await setup();
      const source = {
        group: 'g',
        topic: 'orders.order.events',
        partition: 2,
        offset: '9007199254740993',
      };
      await store.append({ ...commitOf(id, 1, 'k1'), source });
      await store.markPublished(counter.type, [commitOf(id, 1, 'k1')]);
      await store.append(commitOf(id, 2, 'k2'));
      const [offered] = await store.compactable(counter.type, '2030-01-01T00:00:00.000Z', 100);
      expect(offered?.source).toEqual(source);
    });

    it("records each relay process's two latest batches, finds them and forgets them", async () => {
      const { store, id } = await setup();
      const relayId = `relay-${id}`;
      const commits = [
        { entityType: counter.type, entityId: id, version: 1, causationKey: 'k1' },
        { entityType: 'contract.other', entityId: id, version: 3, causationKey: 'k3' },
      ];
      for (const sequence of [1, 2, 3]) {
        await store.saveRelayBatch({ relayId, instance: 'i1', sequence, commits });
      }
      await store.saveRelayBatch({ relayId, instance: 'i2', sequence: 1, commits: [] });
      await store.saveRelayBatch({ relayId: `${relayId}-x`, instance: 'i1', sequence: 1, commits });
      expect(await store.loadRelayBatch(relayId, 'i1', 2)).toEqual({
        relayId,
        instance: 'i1',
        sequence: 2,
        commits,
      });
      expect(await store.loadRelayBatch(relayId, 'i1', 3)).toMatchObject({ sequence: 3 });
      // A relay records a batch only once the one before the last is marked: the two latest are
      // kept.
      expect(await store.loadRelayBatch(relayId, 'i1', 1)).toBeUndefined();
      expect(await store.loadRelayBatch(relayId, 'i1', 4)).toBeUndefined();
      expect(await store.loadRelayBatch(relayId, 'i2', 1)).toBeDefined();

      await store.deleteRelayBatches(relayId, { instance: 'i1', sequence: 1 });
      expect(await store.loadRelayBatch(relayId, 'i1', 3)).toBeDefined();
      expect(await store.loadRelayBatch(relayId, 'i1', 2)).toBeDefined();
      await store.deleteRelayBatches(relayId, { instance: 'i1', sequence: 2 });
      expect(await store.loadRelayBatch(relayId, 'i1', 2)).toBeUndefined();
      expect(await store.loadRelayBatch(relayId, 'i1', 3)).toBeDefined();
      expect(await store.loadRelayBatch(relayId, 'i2', 1)).toBeDefined();
      await store.deleteRelayBatches(relayId);
      expect(await store.loadRelayBatch(relayId, 'i2', 1)).toBeUndefined();
      expect(await store.loadRelayBatch(`${relayId}-x`, 'i1', 1)).toBeDefined();
    });

    it('gives back the state of every version of an entity prepared with its replay, in another process, on a duplicate and after compaction', async () => {
      const { store, id } = await setup();
      await store.prepare(ledger.type, replayOf(ledger));
      const service = serviceOn(store);
      const stateAt = (version: number) => ({
        total: (version * (version + 1)) / 2,
        entries: Object.fromEntries(
          Array.from({ length: version }, (_, i) => [`k${i + 1}`, `k${i + 1}:${'x'.repeat(60)}`]),
        ),
      });
      for (let v = 1; v <= 21; v += 1) {
        await service.execute(
          ledger,
          id,
          'Add',
          { key: `k${v}`, amount: v },
          { causationKey: `m${v}` },
        );
      }
      expect(await store.load(ledger.type, id)).toEqual({ state: stateAt(21), version: 21 });
      // Another process, which reads everything from the data.
      const other = sibling(store);
      await other.prepare(ledger.type, replayOf(ledger));
      expect(await other.load(ledger.type, id)).toEqual({ state: stateAt(21), version: 21 });
      // A redelivered message gets the state its commit made, not the latest.
      const again = await serviceOn(other).execute(
        ledger,
        id,
        'Add',
        { key: 'k13', amount: 13 },
        { causationKey: 'm13' },
      );
      expect(again).toMatchObject({ status: 'duplicate', version: 13, state: stateAt(13) });
      // The commits a relay publishes keep their events and outbox commands.
      const unpublished = await other.unpublished(ledger.type, 100);
      expect(unpublished.map((c) => c.version)).toEqual(
        Array.from({ length: 21 }, (_, i) => i + 1),
      );
      expect(unpublished[12]?.events.map((e) => [e.type, e.payload])).toEqual([
        ['Added', { key: 'k13', amount: 13 }],
        ['Notify', { key: 'k13' }],
      ]);
      // Compaction forgets only what a load no longer needs.
      await store.markPublished(ledger.type, unpublished);
      const offered = await other.compactable(ledger.type, '2100-01-01T00:00:00.000Z', 100);
      expect(offered.length).toBeGreaterThan(0);
      await other.deleteCommits(ledger.type, offered);
      for (const reader of [sibling(store), store]) {
        await reader.prepare(ledger.type, replayOf(ledger));
        expect(await reader.load(ledger.type, id)).toEqual({ state: stateAt(21), version: 21 });
      }
      // And the entity goes on from there.
      await service.execute(ledger, id, 'Add', { key: 'k22', amount: 22 }, { causationKey: 'm22' });
      const last = sibling(store);
      await last.prepare(ledger.type, replayOf(ledger));
      expect(await last.load(ledger.type, id)).toEqual({
        state: stateAt(22),
        version: 22,
      });
    });

    it('hands out copies: changing a loaded state in place changes nothing stored', async () => {
      const { store, id } = await setup();
      for (let v = 1; v <= 3; v += 1) await store.append(commitOf(id, v, `k${v}`));
      const stored = commitOf(id, 3, 'k3').state;
      // Another process, whose first load reads the database; then one that finds it cached.
      const other = sibling(store);
      await other.prepare(counter.type);
      for (const reader of [other, other, store]) {
        const loaded = await reader.load<Counter>(counter.type, id);
        expect(loaded).toEqual({ state: stored, version: 3 });
        // A handler or an evolve that changes the state in place.
        loaded!.state.count = 999;
        loaded!.state.nested.tags.push('changed');
      }
      expect(await other.load(counter.type, id)).toEqual({ state: stored, version: 3 });
      expect(await store.load(counter.type, id)).toEqual({ state: stored, version: 3 });
    });

    it('keeps entity types apart', async () => {
      const { store, id } = await setup();
      await store.prepare('contract.other');
      await store.append(commitOf(id, 1, 'k', 'contract.other'));
      expect(await store.load(counter.type, id)).toBeUndefined();
      expect(await store.load('contract.other', id)).toMatchObject({ version: 1 });
      expect(await store.append(commitOf(id, 1, 'k'))).toEqual({ status: 'appended' });
    });
  });
}
