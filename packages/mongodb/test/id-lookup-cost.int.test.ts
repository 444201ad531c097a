import type { Collection } from 'mongodb';
import { expect, it } from 'vitest';
import { contractDatabases } from './contract-databases.js';

/**
 * The stores read, replace and delete documents by `_id` on every hot path: that must cost the
 * same in a collection of 100 documents as in one of 20,000, or every saga gets slower as data
 * grows. On FerretDB's SQLite backend this holds only with the infra's patch (the `_id` lookup
 * and the `_id` index use one expression); the query plan says whether the index is searched.
 */
const freshDatabase = contractDatabases('idcost');

interface Doc {
  _id: string;
  pad: string;
  n: number;
}

const SIZES = [100, 20_000] as const;
const PROBES = 40;

async function fill(collection: Collection<Doc>, size: number): Promise<string[]> {
  const ids = Array.from({ length: size }, (_, i) => `entity-${i}@${String(i).padStart(10, '0')}`);
  for (let i = 0; i < size; i += 1000) {
    await collection.insertMany(
      ids.slice(i, i + 1000).map((_id, k) => ({ _id, pad: 'x'.repeat(900), n: i + k })),
    );
  }
  // Ids spread over the whole collection.
  return Array.from({ length: PROBES }, (_, k) => ids[Math.floor((k * size) / PROBES)]!);
}

/** Median time of one operation, ms. */
async function medianMs(ids: readonly string[], operation: (id: string) => Promise<unknown>) {
  const times: number[] = [];
  for (const id of ids) {
    const started = performance.now();
    await operation(id);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

it('finds, replaces and deletes by _id at the same cost among 100 and among 20,000 documents', async () => {
  const db = freshDatabase();
  const figures: Record<string, Record<number, number>> = { find: {}, replace: {}, delete: {} };
  const plans: string[] = [];
  for (const size of SIZES) {
    const collection = db.collection<Doc>(`docs_${size}`);
    const ids = await fill(collection, size);
    // Warm the connection and the statement caches before timing.
    await collection.findOne({ _id: ids[0]! });
    figures['find']![size] = await medianMs(ids, (id) => collection.findOne({ _id: id }));
    figures['replace']![size] = await medianMs(ids, (id) =>
      collection.replaceOne({ _id: id }, { pad: 'y', n: -1 }),
    );
    figures['delete']![size] = await medianMs(ids, (id) => collection.deleteOne({ _id: id }));
    const explained = await db.command({
      explain: { find: collection.collectionName, filter: { _id: ids[1]! } },
    });
    plans.push(`${size}: ${JSON.stringify(explained['queryPlanner'] ?? explained)}`);
  }
  const shown = `${JSON.stringify(figures)}\n${plans.join('\n')}`;
  console.log(`by-_id cost (median ms) and query plans:\n${shown}`);
  for (const [operation, bySize] of Object.entries(figures)) {
    const ratio = bySize[20_000]! / bySize[100]!;
    expect(ratio, `${operation}: ${shown}`).toBeLessThanOrEqual(2);
  }
  // Where the server tells its plan (FerretDB on SQLite does), the `_id` index is searched.
  for (const plan of plans) {
    if (plan.includes('detail=')) expect(plan, shown).toMatch(/SEARCH .* USING INDEX/);
  }
}, 120_000);
