import { createServer } from 'node:net';
import { defineEntity, EntityService, replayOf, type Commit } from '@sagaflow/core';
import { entityStoreContract, testEnv, uniqueName } from '@sagaflow/testing';
import { BSON, MongoClient, type Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { freshPing, MongoEntityStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('store');
const databases = new WeakMap<MongoEntityStore, Db>();
// #region mongo-contract
entityStoreContract(
  'MongoEntityStore',
  () => {
    const db = freshDatabase();
    const store = new MongoEntityStore(db);
    databases.set(store, db);
    return store;
  },
  (store) => new MongoEntityStore(databases.get(store as MongoEntityStore)!),
);
// #endregion

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

/** A commit of `commitOf`'s with the causation key of the message that caused it. */
const keyed = (entityId: string, version: number, causationKey: string) => ({
  ...commitOf(entityId, version),
  causationKey,
});

/** Two processes' stores on one fresh database, its commits prepared, and a fresh entity id. */
async function processes() {
  const db = freshDatabase();
  const a = new MongoEntityStore(db);
  const b = new MongoEntityStore(db);
  await a.prepare(TYPE);
  return { db, a, b, id: uniqueName('entity') };
}

/**
 * An outbox marker of version 1 as a writer that died after recording it would leave it; without
 * a writer, as earlier releases recorded it.
 */
const recordDeadMarker = (db: Db, marker: { id: string; causationKey: string; writer?: string }) =>
  db.collection(`${TYPE.replaceAll('.', '_')}_outbox`).insertOne({
    _id: `${marker.id}@0000000001#${marker.causationKey}${marker.writer === undefined ? '' : `#${marker.writer}`}` as never,
    entityId: marker.id,
    version: 1,
    causationKey: marker.causationKey,
    ...(marker.writer === undefined ? {} : { writer: marker.writer }),
    at: new Date().toISOString(),
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

  it('starts a command from what it saw last, and a stale start conflicts instead of overwriting', async () => {
    const { db, a, b, id } = await processes();
    for (let v = 1; v <= 3; v += 1) await a.append(commitOf(id, v));
    expect(await b.load(TYPE, id)).toEqual({ version: 3, state: { count: 3 } });
    await a.append(commitOf(id, 4));
    // For a command, b may answer from what it saw (version 3): its append of 4 conflicts...
    const stale = await b.load(TYPE, id, { mayBeStale: true });
    expect(stale?.version).toBe(3);
    expect(await b.append(commitOf(id, 4))).toEqual({ status: 'conflict' });
    // ...after which it reads afresh, also for a command; a plain load always does.
    expect(await b.load(TYPE, id, { mayBeStale: true })).toEqual({
      version: 4,
      state: { count: 4 },
    });
    await a.append(commitOf(id, 5));
    expect(await b.load(TYPE, id)).toEqual({ version: 5, state: { count: 5 } });
    // An entity never seen and without a head starts at nothing; if it has early commits, the
    // append of version 1 conflicts.
    const c = new MongoEntityStore(db);
    expect(await c.load(TYPE, id, { mayBeStale: true })).toBeUndefined();
    expect(await c.append(commitOf(id, 1))).toEqual({ status: 'conflict' });
    expect(await c.load(TYPE, id, { mayBeStale: true })).toEqual({
      version: 5,
      state: { count: 5 },
    });
  });
});

describe('MongoEntityStore outbox: only the commit that won a version is published, once', () => {
  it('a writer that lost a version after the winner was published leaves nothing to publish again', async () => {
    const { a, b, id } = await processes();
    expect(await a.append(keyed(id, 1, 'winner'))).toEqual({ status: 'appended' });
    expect((await a.unpublished(TYPE, 10)).map((c) => c.causationKey)).toEqual(['winner']);
    await a.markPublished(TYPE, [keyed(id, 1, 'winner')]);
    expect(await a.isPublished(keyed(id, 1, 'winner'))).toBe(true);
    // b loaded version 0 before a's commit and loses the race for version 1.
    expect(await b.append(keyed(id, 1, 'loser'))).toEqual({ status: 'conflict' });
    expect(await a.unpublished(TYPE, 10)).toEqual([]);
    expect((await a.outboxBacklog(TYPE)).pending).toBe(0);
  });

  it("drops the marker of a writer that died after losing, not the winner's", async () => {
    const { db, a: store, id } = await processes();
    expect(await store.append(keyed(id, 1, 'winner'))).toEqual({ status: 'appended' });
    // The marker a losing writer recorded before it died, its commit never written.
    await recordDeadMarker(db, { id, causationKey: 'loser', writer: 'a-loser-that-died' });
    expect((await store.outboxBacklog(TYPE)).pending).toBe(2);
    const pending = await store.unpublished(TYPE, 10);
    expect(pending.map((c) => `${c.version}:${c.causationKey}`)).toEqual(['1:winner']);
    expect((await store.outboxBacklog(TYPE)).pending).toBe(1);
  });

  it('a second attempt at a version with the same causation key neither republishes it nor drops its marker', async () => {
    const { db, a, b, id } = await processes();
    // Two attempts at version 1 with one causation key (a message delivered twice) at once:
    // one wins, and its marker stays until it is published.
    const outcomes = await Promise.all([
      a.append(keyed(id, 1, 'k1')),
      b.append(keyed(id, 1, 'k1')),
    ]);
    expect(outcomes.filter((o) => o.status === 'appended')).toHaveLength(1);
    expect((await a.unpublished(TYPE, 10)).map((c) => c.version)).toEqual([1]);
    await a.markPublished(TYPE, [keyed(id, 1, 'k1')]);
    // Once published, an attempt on a stale state records a marker of its own: it is not
    // published again, whether its writer takes it back or dies first.
    expect(await b.append(keyed(id, 1, 'k1'))).not.toEqual({ status: 'appended' });
    expect(await a.unpublished(TYPE, 10)).toEqual([]);
    await recordDeadMarker(db, { id, causationKey: 'k1', writer: 'a-writer-that-died' });
    expect(await a.unpublished(TYPE, 10)).toEqual([]);
    expect((await a.outboxBacklog(TYPE)).pending).toBe(0);
  });

  it('publishes a commit of a message whose first writer died between its marker and its commit', async () => {
    const { db, a: store, id } = await processes();
    // A process recorded its marker for version 1 with causation k1, and died before its commit.
    await recordDeadMarker(db, { id, causationKey: 'k1', writer: 'a-writer-that-died' });
    // The message is delivered again, to a live process, which writes version 1.
    expect(await store.append(keyed(id, 1, 'k1'))).toEqual({ status: 'appended' });
    expect(await store.isPublished(keyed(id, 1, 'k1'))).toBe(false);
    expect((await store.unpublished(TYPE, 10)).map((c) => c.causationKey)).toEqual(['k1']);
    expect((await store.unpublished(TYPE, 10)).map((c) => c.causationKey)).toEqual(['k1']);
    await store.markPublished(TYPE, [keyed(id, 1, 'k1')]);
    expect(await store.unpublished(TYPE, 10)).toEqual([]);
    expect((await store.outboxBacklog(TYPE)).pending).toBe(0);
  });

  it("keeps a live writer's marker while another process's relay drops the dead writer's of the same message", async () => {
    const { db, a, b } = await processes();
    // Twenty times, as the race depends on timing: the relay of another process reads the
    // outbox (and drops the dead marker) while the live writer appends.
    for (let round = 0; round < 20; round += 1) {
      const id = uniqueName('entity');
      await recordDeadMarker(db, { id, causationKey: 'k1', writer: 'a-writer-that-died' });
      const [outcome] = await Promise.all([
        a.append({ ...keyed(id, 1, 'k1'), committedAt: new Date().toISOString() }),
        b.unpublished(TYPE, 10),
        b.unpublished(TYPE, 10),
      ]);
      expect(outcome).toEqual({ status: 'appended' });
      expect(await a.isPublished(keyed(id, 1, 'k1'))).toBe(false);
      const pending = await b.unpublished(TYPE, 10);
      expect(pending.map((c) => `${c.entityId}:${c.causationKey}`)).toEqual([`${id}:k1`]);
      await b.markPublished(TYPE, pending);
      expect(await a.isPublished(keyed(id, 1, 'k1'))).toBe(true);
    }
    expect((await a.outboxBacklog(TYPE)).pending).toBe(0);
  });

  it('publishes a commit once beside markers an earlier release recorded without a writer', async () => {
    const { db, a: store, id } = await processes();
    // Of a message delivered twice, the first attempt left its marker (without a writer).
    await recordDeadMarker(db, { id, causationKey: 'k1' });
    expect(await store.append(keyed(id, 1, 'k1'))).toEqual({ status: 'appended' });
    expect((await store.unpublished(TYPE, 10)).map((c) => c.causationKey)).toEqual(['k1']);
    await store.markPublished(TYPE, [keyed(id, 1, 'k1')]);
    expect(await store.isPublished(keyed(id, 1, 'k1'))).toBe(true);
    expect((await store.outboxBacklog(TYPE)).pending).toBe(0);
    // A loser's marker without a writer is dropped.
    expect(await store.append(keyed(id, 2, 'k2'))).toEqual({ status: 'appended' });
    await db.collection(`${TYPE.replaceAll('.', '_')}_outbox`).insertOne({
      _id: `${id}@0000000002#other` as never,
      entityId: id,
      version: 2,
      causationKey: 'other',
      at: new Date().toISOString(),
    });
    expect((await store.unpublished(TYPE, 10)).map((c) => c.causationKey)).toEqual(['k2']);
    expect((await store.outboxBacklog(TYPE)).pending).toBe(1);
  });

  it('leaves no marker behind for a message applied already (a duplicate)', async () => {
    const { a: store, id } = await processes();
    expect(await store.append(keyed(id, 1, 'k1'))).toEqual({ status: 'appended' });
    await store.markPublished(TYPE, [keyed(id, 1, 'k1')]);
    expect(await store.append(keyed(id, 2, 'k1'))).toMatchObject({ status: 'duplicate' });
    expect((await store.outboxBacklog(TYPE)).pending).toBe(0);
    expect(await store.unpublished(TYPE, 10)).toEqual([]);
  });
});

describe('MongoEntityStore ping', () => {
  /** A local port nothing listens on. */
  const closedPort = () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });

  it('tells a client that cannot reach a database that answers fresh clients (stuck) from a database that is down', async () => {
    const nowhere = `mongodb://127.0.0.1:${await closedPort()}`;
    const lost = new MongoClient(nowhere, { serverSelectionTimeoutMS: 300 });
    try {
      const reachable = freshPing(testEnv().mongodbUrl);
      await expect(
        new MongoEntityStore(lost.db('ping'), { freshPing: reachable }).ping(),
      ).rejects.toMatchObject({ code: 'CLIENT_STUCK', retriable: false });
      const down = await new MongoEntityStore(lost.db('ping'), {
        freshPing: freshPing(nowhere, 300),
      })
        .ping()
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(down).toBeInstanceOf(Error);
      expect((down as { code?: unknown }).code).not.toBe('CLIENT_STUCK');
      await expect(
        new MongoEntityStore(freshDatabase(), { freshPing: reachable }).ping(),
      ).resolves.toBeUndefined();
    } finally {
      await lost.close();
    }
  });
});

/**
 * Runs a test on a store of a fresh database, with the collection of every `find` it sends, and
 * every command it sends (`<command> <collection>`, a `find` with its filter).
 */
async function withFindsCounted(
  label: string,
  test: (
    store: MongoEntityStore,
    finds: string[],
    commands: { readonly command: string; readonly filter?: unknown }[],
    db: Db,
  ) => Promise<void>,
) {
  const name = uniqueName(label);
  const client = await new MongoClient(testEnv().mongodbUrl, { monitorCommands: true }).connect();
  const finds: string[] = [];
  const commands: { command: string; filter?: unknown }[] = [];
  client.on('commandStarted', (event) => {
    if (event.commandName === 'find') finds.push(String(event.command['find']));
    commands.push({
      command: `${event.commandName} ${String(event.command[event.commandName])}`,
      ...(event.commandName === 'find' ? { filter: event.command['filter'] as unknown } : {}),
    });
  });
  try {
    await test(new MongoEntityStore(client.db(name)), finds, commands, client.db(name));
  } finally {
    await client.db(name).dropDatabase();
    await client.close();
  }
}

/** The finds among the commands that look a commit up by its causation key (a scan on FerretDB). */
const byKey = (commands: readonly { command: string; filter?: unknown }[]) =>
  commands.filter(
    (c) =>
      c.command.startsWith('find ') &&
      (c.filter as Record<string, unknown> | undefined)?.['causationKey'] !== undefined,
  );

describe('MongoEntityStore starts a command from a version it saw lately', () => {
  it('without reading the head, when it wrote or read that version within trustSeenMs', async () => {
    await withFindsCounted('trusted-versions', async (store, finds, _commands, db) => {
      await store.prepare(TYPE);
      const heads = `${TYPE.replaceAll('.', '_')}_heads`;
      const id = uniqueName('entity');
      for (let v = 1; v <= 3; v += 1) await store.append(commitOf(id, v));
      finds.length = 0;
      expect(await store.load(TYPE, id, { mayBeStale: true })).toEqual({
        version: 3,
        state: { count: 3 },
      });
      expect(finds).toEqual([]);
      // A load that is not for a command reads the head, and what follows it, in any case.
      expect(await store.load(TYPE, id)).toEqual({ version: 3, state: { count: 3 } });
      expect(finds).toContain(heads);
      // Read by another process: trusted there too, once read.
      const reader = new MongoEntityStore(db);
      expect(await reader.load(TYPE, id)).toEqual({ version: 3, state: { count: 3 } });
      finds.length = 0;
      expect(await reader.load(TYPE, id, { mayBeStale: true })).toMatchObject({ version: 3 });
      expect(finds).toEqual([]);
      // Trusting nothing: a command reads the head.
      const wary = new MongoEntityStore(db, { trustSeenMs: 0 });
      expect(await wary.load(TYPE, id)).toMatchObject({ version: 3 });
      finds.length = 0;
      expect(await wary.load(TYPE, id, { mayBeStale: true })).toMatchObject({ version: 3 });
      expect(finds).toEqual([heads]);
    });
  });

  it('and from nothing for an entity it found without a commit lately; a commit written since elsewhere conflicts', async () => {
    await withFindsCounted('trusted-absence', async (store, finds, _commands, db) => {
      await store.prepare(TYPE);
      const id = uniqueName('entity');
      expect(await store.load(TYPE, id)).toBeUndefined();
      finds.length = 0;
      expect(await store.load(TYPE, id, { mayBeStale: true })).toBeUndefined();
      expect(finds).toEqual([]);
      // Another process creates it meanwhile: the command's first version conflicts, and the
      // next load reads afresh.
      await new MongoEntityStore(db).append(commitOf(id, 1));
      expect(await store.append(commitOf(id, 1))).toEqual({ status: 'conflict' });
      expect(await store.load(TYPE, id, { mayBeStale: true })).toEqual({
        version: 1,
        state: { count: 1 },
      });
    });
  });

  it('refuses a trust that is not a non-negative integer, naming it', () => {
    for (const trustSeenMs of [-1, 1.5, Number.NaN]) {
      expect(() => new MongoEntityStore(freshDatabase(), { trustSeenMs })).toThrow(
        /trustSeenMs must be a non-negative integer/,
      );
    }
  });
});

describe('MongoEntityStore answers a message applied already', () => {
  it('from the commit it wrote or read, read by _id: no write, and no look-up by causation key (a scan on FerretDB)', async () => {
    await withFindsCounted('duplicate-reads', async (store, _finds, commands, db) => {
      await store.prepare(TYPE);
      const id = uniqueName('entity');
      const commits = `${TYPE.replaceAll('.', '_')}_commits`;
      const lookUpsByKey = () => byKey(commands);
      expect(await store.append(keyed(id, 1, 'k1'))).toEqual({ status: 'appended' });
      expect(await store.append(keyed(id, 2, 'k2'))).toEqual({ status: 'appended' });
      commands.length = 0;
      // The message of version 1 comes again (a redelivery): it is answered with version 1.
      expect(await store.append(keyed(id, 3, 'k1'))).toMatchObject({
        status: 'duplicate',
        existing: { version: 1, causationKey: 'k1', state: { count: 1 } },
      });
      expect(commands).toEqual([
        { command: `find ${commits}`, filter: { _id: `${id}@0000000001` } },
      ]);
      // Another process of the service (a fresh store, as after a restart) never saw the key:
      // it reads the versions before the refused one by _id, and finds it there; then it answers
      // from what it read.
      const other = new MongoEntityStore(db);
      commands.length = 0;
      expect(await other.append(keyed(id, 3, 'k1'))).toMatchObject({
        status: 'duplicate',
        existing: { version: 1 },
      });
      expect(lookUpsByKey()).toEqual([]);
      commands.length = 0;
      expect(await other.append(keyed(id, 3, 'k1'))).toMatchObject({
        status: 'duplicate',
        existing: { version: 1 },
      });
      expect(commands.map((c) => c.command)).not.toContain(`insert ${commits}`);
      expect(lookUpsByKey()).toEqual([]);
    });
  });

  it('that it never saw, by reading the entity’s latest commits by _id; a key older than those by key, once', async () => {
    await withFindsCounted('unseen-duplicates', async (store, _finds, commands, db) => {
      await store.prepare(TYPE);
      const id = uniqueName('entity');
      const lookUpsByKey = () => byKey(commands);
      for (let v = 1; v <= 12; v += 1) await store.append(keyed(id, v, `k${v}`));
      // A fresh store, as after a restart: the message of version 5 comes again (eight versions
      // back), then that of version 2 (eleven back, older than the versions read by _id).
      const restarted = new MongoEntityStore(db);
      commands.length = 0;
      expect(await restarted.append(keyed(id, 13, 'k5'))).toMatchObject({
        status: 'duplicate',
        existing: { version: 5, causationKey: 'k5' },
      });
      expect(lookUpsByKey()).toEqual([]);
      expect(await restarted.append(keyed(id, 13, 'k2'))).toMatchObject({
        status: 'duplicate',
        existing: { version: 2, causationKey: 'k2' },
      });
      expect(lookUpsByKey()).toHaveLength(1);
      // A new key is no duplicate.
      expect(await restarted.append(keyed(id, 13, 'k13'))).toEqual({ status: 'appended' });
    });
  });
});

describe('MongoEntityStore loads after a conflict', () => {
  it('reads the head and the next version only, the versions this process saw coming from memory', async () => {
    await withFindsCounted('conflict-reads', async (store, finds) => {
      await store.prepare(TYPE);
      const id = uniqueName('entity');
      for (let v = 1; v <= 11; v += 1) await store.append(commitOf(id, v));
      // A stale writer loses: what this process knew of the entity is behind now.
      expect(await store.append({ ...commitOf(id, 5), causationKey: 'late' })).toEqual({
        status: 'conflict',
      });
      finds.length = 0;
      expect(await store.load(TYPE, id)).toEqual({ state: { count: 11 }, version: 11 });
      // The head (version 8), then version 12, which is not there; 9 to 11 were written here.
      const heads = `${TYPE.replaceAll('.', '_')}_heads`;
      const commits = `${TYPE.replaceAll('.', '_')}_commits`;
      expect(finds).toEqual([heads, commits]);
    });
  });
});

describe('MongoEntityStore compaction: no read of the history while nothing can be old enough', () => {
  it('reads the commits again only once the cut-off passes the oldest, or an append goes below it', async () => {
    await withFindsCounted('compaction-reads', async (store, finds) => {
      const id = uniqueName('entity');
      // Committed at 2026-01-01T00:00:01 … 03.
      for (let v = 1; v <= 3; v += 1) await store.append(commitOf(id, v));
      await store.markPublished(
        TYPE,
        [1, 2, 3].map((v) => commitOf(id, v)),
      );
      const commits = `${TYPE.replaceAll('.', '_')}_commits`;
      const historyReads = () => finds.filter((c) => c === commits).length;

      // Nothing before the cut-off: the history is read (and its oldest commit noted) once.
      expect(await store.compactable(TYPE, '2025-12-01T00:00:00.000Z', 100)).toEqual([]);
      const afterFirst = historyReads();
      expect(afterFirst).toBeGreaterThan(0);
      expect(await store.compactable(TYPE, '2026-01-01T00:00:01.000Z', 100)).toEqual([]);
      expect(historyReads()).toBe(afterFirst);

      // The cut-off past the oldest commit: read again, and the old versions offered.
      const offered = await store.compactable(TYPE, '2026-01-01T00:00:03.000Z', 100);
      expect(offered.map((c) => c.version)).toEqual([1, 2]);
      expect(historyReads()).toBeGreaterThan(afterFirst);

      // An append through the store that is older than what was noted lowers it.
      const other = uniqueName('entity');
      expect(await store.compactable(TYPE, '2025-12-01T00:00:00.000Z', 100)).toEqual([]);
      const before = historyReads();
      const early = { ...commitOf(other, 1), committedAt: '2025-06-01T00:00:00.000Z' };
      await store.append(early);
      await store.append({ ...commitOf(other, 2), committedAt: '2025-06-01T00:00:01.000Z' });
      await store.markPublished(TYPE, [early]);
      const again = await store.compactable(TYPE, '2025-12-01T00:00:00.000Z', 100);
      expect(again.map((c) => `${c.entityId}@${c.version}`)).toEqual([`${other}@1`]);
      expect(historyReads()).toBeGreaterThan(before);
    });
  });
});

describe('MongoEntityStore snapshots: a large state is written every few versions, not with every commit', () => {
  /** A register whose state grows by an entry of half a kilobyte with every event. */
  const register = defineEntity<
    { entries: Record<string, string> },
    { Put: { key: string } },
    { Put: { key: string } }
  >({
    type: 'snap.register',
    initialState: () => ({ entries: {} }),
    commands: { Put: (_state, payload) => [{ type: 'Put', payload }] },
    evolve: (state, { payload }) => ({
      entries: { ...state.entries, [payload.key]: payload.key.repeat(50) },
    }),
  });

  it('keeps the size of a commit flat as the state grows, and loads every state back', async () => {
    const db = freshDatabase();
    const store = new MongoEntityStore(db);
    await store.prepare(register.type, replayOf(register));
    const service = new EntityService({ store, service: 'snap' });
    const id = uniqueName('register');
    for (let v = 1; v <= 40; v += 1) {
      await service.execute(register, id, 'Put', { key: `k${String(v).padStart(9, '0')}` });
    }
    const docs = await db
      .collection<{ version: number; state?: unknown }>('snap_register_commits')
      .find({ entityId: id })
      .sort({ version: 1 })
      .toArray();
    const sizes = docs.map((d) => BSON.calculateObjectSize(d));
    const withState = docs.filter((d) => d.state !== undefined).map((d) => d.version);
    // The first commit's state is small (about 1 KB is the limit): written whole.
    expect(withState).toEqual([1, 8, 16, 24, 32, 40]);
    // Version 40's state holds 40 entries of 500 bytes; the commits between snapshots stay at one event.
    expect(sizes[39]).toBeGreaterThan(20_000);
    const between = docs
      .filter((d) => d.state === undefined)
      .map((d) => BSON.calculateObjectSize(d));
    expect(between).toHaveLength(34);
    expect(Math.max(...between)).toBeLessThan(2_000);

    // Another process (nothing cached) loads the latest state, rebuilt from version 40's.
    const other = new MongoEntityStore(db);
    await other.prepare(register.type, replayOf(register));
    const loaded = await other.load<{ entries: Record<string, string> }>(register.type, id);
    expect(loaded?.version).toBe(40);
    expect(Object.keys(loaded?.state.entries ?? {})).toHaveLength(40);
    await service.execute(register, id, 'Put', { key: 'k-next' });
    await service.execute(register, id, 'Put', { key: 'k-last' });
    const third = new MongoEntityStore(db);
    await third.prepare(register.type, replayOf(register));
    const latest = await third.load<{ entries: Record<string, string> }>(register.type, id);
    expect(latest?.version).toBe(42);
    expect(latest?.state.entries['k-last']).toBe('k-last'.repeat(50));
    expect(Object.keys(latest?.state.entries ?? {})).toHaveLength(42);

    // A store not told how to rebuild the state says so, instead of answering a wrong one.
    const unprepared = new MongoEntityStore(db);
    await expect(unprepared.load(register.type, id)).rejects.toMatchObject({
      code: 'INVALID_DEFINITION',
      retriable: false,
    });
  });
});
