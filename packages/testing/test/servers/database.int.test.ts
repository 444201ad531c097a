import { MongoClient, MongoServerError, type Collection, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, uniqueDatabase } from '../../src/index.js';

interface Entity {
  _id: string;
  version: number;
  counter: number;
  owner?: string;
}

describe('database (real MongoDB wire protocol)', () => {
  let client: MongoClient;
  let db: Db;

  beforeAll(async () => {
    client = new MongoClient(testEnv().mongodbUrl);
    await client.connect();
    db = client.db(uniqueDatabase('proof'));
  });

  afterAll(async () => {
    await db.dropDatabase().catch(() => {});
    await client.close();
  });

  it('refuses a duplicate under a unique index', async () => {
    const orders = db.collection<{ _id?: unknown; orderId: string; sku: string }>('orders');
    await orders.createIndex({ orderId: 1, sku: 1 }, { unique: true });
    await orders.insertOne({ orderId: 'o-1', sku: 'A' });
    await orders.insertOne({ orderId: 'o-1', sku: 'B' });
    const duplicate = orders.insertOne({ orderId: 'o-1', sku: 'A' });
    await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
    await expect(duplicate).rejects.toMatchObject({ code: 11000 });
    expect(await orders.countDocuments({ orderId: 'o-1' })).toBe(2);
  });

  it('uses findOneAndUpdate with upsert and a version condition as an optimistic-concurrency write', async () => {
    const entities = db.collection<Entity>('entities');
    const write = (expected: number, owner: string) =>
      entities.findOneAndUpdate(
        { _id: 'e-1', version: expected },
        { $inc: { version: 1 }, $set: { owner }, $setOnInsert: { counter: 0 } },
        { upsert: true, returnDocument: 'after' },
      );

    expect(await write(0, 'creator')).toEqual({
      _id: 'e-1',
      version: 1,
      owner: 'creator',
      counter: 0,
    });
    expect(await write(1, 'second')).toMatchObject({ version: 2, owner: 'second' });
    // A stale version does not match, so the upsert tries to insert the same _id: refused.
    await expect(write(1, 'stale')).rejects.toMatchObject({ code: 11000 });
    // Without upsert a stale write simply matches nothing.
    expect(
      await entities.findOneAndUpdate({ _id: 'e-1', version: 1 }, { $set: { owner: 'stale' } }),
    ).toBeNull();
    expect(await entities.findOne({ _id: 'e-1' })).toEqual({
      _id: 'e-1',
      version: 2,
      owner: 'second',
      counter: 0,
    });
  });

  // FerretDB v1 runs every update as "query, change in Go, UPDATE ... WHERE _id = ?", so a
  // version condition in findOneAndUpdate is not checked atomically: under concurrency both
  // writers of one version can win (FerretDB issue #3040; seen here: 40 concurrent
  // read-modify-write increments left the counter at 15). Inserts under a unique key are atomic
  // on FerretDB and MongoDB alike, so concurrency control rests on inserting the next version.
  interface Commit {
    _id: string;
    entityId: string;
    version: number;
    counter: number;
    owner: string;
  }
  const insertVersion = (
    commits: Collection<Commit>,
    entityId: string,
    version: number,
    counter: number,
    owner: string,
  ) =>
    commits.insertOne({
      _id: `${entityId}#${String(version).padStart(10, '0')}`,
      entityId,
      version,
      counter,
      owner,
    });

  it('never lets two concurrent writers of one version both win', async () => {
    const commits = db.collection<Commit>('race_commits');
    await commits.createIndex({ entityId: 1, version: 1 }, { unique: true });
    for (let round = 1; round <= 30; round += 1) {
      const results = await Promise.allSettled(
        ['a', 'b', 'c'].map((owner) => insertVersion(commits, 'race', round, round, owner)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 11000 });
      }
    }
    expect(await commits.countDocuments({ entityId: 'race' })).toBe(30);
  });

  it('loses no update when writers retry on conflict', async () => {
    const commits = db.collection<Commit>('counter_commits');
    await commits.createIndex({ entityId: 1, version: 1 }, { unique: true });
    await insertVersion(commits, 'count', 0, 0, 'init');
    let conflicts = 0;
    const increment = async (owner: string) => {
      for (;;) {
        const [latest] = await commits
          .find({ entityId: 'count' })
          .sort({ version: -1 })
          .limit(1)
          .toArray();
        try {
          await insertVersion(commits, 'count', latest!.version + 1, latest!.counter + 1, owner);
          return;
        } catch (error) {
          if ((error as { code?: number }).code !== 11000) throw error;
          conflicts += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: 40 }, (_, i) => increment(`w${i}`)));
    const [latest] = await commits
      .find({ entityId: 'count' })
      .sort({ version: -1 })
      .limit(1)
      .toArray();
    expect(latest).toMatchObject({ version: 40, counter: 40 });
    expect(await commits.countDocuments({ entityId: 'count' })).toBe(41);
    expect(conflicts).toBeGreaterThan(0);
  });
});
