import {
  defineEntity,
  EntityService,
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
 * The behaviour every {@link EntityStore} must have. Run it against each implementation: the
 * in-memory one earns trust by passing the same tests as the real one.
 */
export function entityStoreContract(
  name: string,
  makeStore: () => EntityStore | Promise<EntityStore>,
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

    it("records each relay process's latest batch, finds it and forgets it", async () => {
      const { store, id } = await setup();
      const relayId = `relay-${id}`;
      const commits = [
        { entityType: counter.type, entityId: id, version: 1, causationKey: 'k1' },
        { entityType: 'contract.other', entityId: id, version: 3, causationKey: 'k3' },
      ];
      for (const sequence of [1, 2]) {
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
      // A relay records a batch only once the one before is marked: only the latest is kept.
      expect(await store.loadRelayBatch(relayId, 'i1', 3)).toBeUndefined();
      expect(await store.loadRelayBatch(relayId, 'i2', 1)).toBeDefined();

      await store.deleteRelayBatches(relayId, { instance: 'i1', sequence: 1 });
      expect(await store.loadRelayBatch(relayId, 'i1', 2)).toBeDefined();
      await store.deleteRelayBatches(relayId, { instance: 'i1', sequence: 2 });
      expect(await store.loadRelayBatch(relayId, 'i1', 2)).toBeUndefined();
      expect(await store.loadRelayBatch(relayId, 'i2', 1)).toBeDefined();
      await store.deleteRelayBatches(relayId);
      expect(await store.loadRelayBatch(relayId, 'i2', 1)).toBeUndefined();
      expect(await store.loadRelayBatch(`${relayId}-x`, 'i1', 1)).toBeDefined();
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
