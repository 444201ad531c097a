import { mixedBatch, placeAll, seed } from '@sagaflow/reference';
import { testEnv, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOwnServer, type OwnServer } from '../fixtures/own-server.js';
import { settleOrders } from '../fixtures/pending-orders.js';
import {
  startReferenceProcesses,
  type ReferenceProcesses,
} from '../fixtures/reference-processes.js';

const ORDERS = 60;

/* A database of this test's own, so that restarting it disturbs no other test. */
let database: OwnServer | undefined;
let system: ReferenceProcesses | undefined;
const log: string[] = [];
const note = (line: string) => log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);

beforeAll(async () => {
  database = await startOwnServer('database', 'db-restart');
  const env = testEnv();
  system = await startReferenceProcesses(
    {
      kafkaBrokers: env.kafkaBrokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      mongodbUrl: database.env.MONGODB_URL,
    },
    { onEvent: note },
  );
}, 240_000);

afterAll(async () => {
  await system?.stop();
  await database?.remove();
  if (log.length > 0) console.log(`database restart log:\n  ${log.join('\n  ')}`);
}, 120_000);

it(`finishes every workflow of ${ORDERS} orchestrated orders when the database restarts while the orchestrator is busy`, async () => {
  const sys = system!;
  const batch = mixedBatch(ORDERS, { seed: 5, prefix: 'dbr-' });
  const orders = batch.orders.map((o) => ({ ...o, mode: 'orchestration' as const }));
  await seed(sys.client, batch.starting);
  let placed = 0;
  const placing = placeAll(sys.client, orders, {
    keyPrefix: `dbr-${sys.namespace}`,
    concurrency: 4,
    onPlaced: (n) => {
      placed = n;
    },
  });
  // Restart once workflows are under way, and again while they recover.
  await waitFor(() => placed >= 15, {
    timeoutMs: 60_000,
    intervalMs: 100,
    description: '15 orders placed',
  });
  for (const pauseMs of [2_000, 6_000]) {
    note('database: stopping');
    await database!.stop();
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    await database!.start();
    note(`database: up again after ${pauseMs} ms down`);
  }
  const lastFault = Date.now();
  const ids = await placing;
  const { quiet, violations } = await settleOrders(sys, batch.starting, ids, {
    mongodbUrl: database!.env.MONGODB_URL,
    since: { at: lastFault, what: 'the last restart' },
    note,
  });
  expect(quiet).toBe(true);
  expect(violations).toEqual([]);
  // Every service answers again, alive and ready (a readiness probe answers within 2 s, which a
  // busy machine right after the restarts may miss once: the probe is asked again). A process
  // whose database client stayed stuck after a restart (its driver's server monitor was seen to
  // hang) exits after 15 s of it, and its supervisor's fresh one must be ready in time.
  await waitFor(
    async () => {
      const unready = await sys.client.unready();
      if (unready.length > 0) throw new Error(unready.join('; '));
      return true;
    },
    {
      timeoutMs: 60_000,
      description: 'every service ready again',
    },
  );
}, 600_000);
