import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  freePorts,
  infraDown,
  infraUp,
  loadInfraConfig,
  localInfraPossible,
  type InfraConfig,
  type ServerName,
} from '@sagaflow/infra-local';
import {
  settledInvariants,
  mixedBatch,
  placeAll,
  seed,
  seededRandom,
  summarize,
  waitUntilTerminal,
  type ServiceName,
} from '@sagaflow/reference';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { explainPending, explainViolations } from '../fixtures/pending-orders.js';
import {
  startReferenceProcesses,
  type ReferenceProcesses,
} from '../fixtures/reference-processes.js';

const ORDERS = 500;
const SERVICES: readonly ServiceName[] = [
  'order',
  'inventory',
  'payment',
  'shipping',
  'orchestrator',
  'admin',
];

/*
 * Servers of this test's own (Kafka, registry, FerretDB on free ports, fresh data), so that
 * restarting Kafka and the database disturbs no other test running at the same time.
 */
let config: InfraConfig;
let system: ReferenceProcesses | undefined;
const log: string[] = [];
const note = (line: string) => {
  log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
};

beforeAll(async () => {
  const stateDir = path.join(
    os.tmpdir(),
    `sagaflow-chaos-${process.pid}-${Date.now().toString(36)}`,
  );
  // Four different ports (Kafka refuses to format its storage when two of its listeners share one).
  const [kafka, controller, registry, database] = await freePorts(4);
  config = loadInfraConfig({
    ...process.env,
    SAGAFLOW_INFRA_STATE_DIR: stateDir,
    SAGAFLOW_KAFKA_PORT: String(kafka),
    SAGAFLOW_KAFKA_CONTROLLER_PORT: String(controller),
    SAGAFLOW_REGISTRY_PORT: String(registry),
    SAGAFLOW_MONGODB_PORT: String(database),
  });
  const missing = await localInfraPossible(config);
  if (missing.length > 0) {
    throw new Error(
      `the chaos test restarts Kafka and the database, so it runs its own local servers: install ${missing.join(', ')}`,
    );
  }
  const up = await infraUp(config);
  system = await startReferenceProcesses(
    {
      kafkaBrokers: up.env.KAFKA_BROKERS.split(','),
      schemaRegistryUrl: up.env.SCHEMA_REGISTRY_URL,
      mongodbUrl: up.env.MONGODB_URL,
    },
    { onEvent: note },
  );
}, 300_000);

afterAll(async () => {
  await system?.stop();
  if (config !== undefined) {
    await infraDown(config, { wipe: true });
    await rm(config.stateDir, { recursive: true, force: true });
  }
  if (log.length > 0) console.log(`chaos log:\n  ${log.join('\n  ')}`);
}, 180_000);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function restartServer(server: ServerName): Promise<number> {
  const started = Date.now();
  note(`${server}: stopping`);
  await infraDown(config, { servers: [server] });
  await pause(2_000);
  await infraUp(config);
  const ms = Date.now() - started;
  note(`${server}: up again after ${ms} ms`);
  return ms;
}

it(`settles ${ORDERS} orders with every invariant intact while services, Kafka and the database are killed and restarted`, async () => {
  const sys = system!;
  const random = seededRandom(42);
  const batch = mixedBatch(ORDERS, { seed: 11, prefix: 'chaos-' });
  await seed(sys.client, batch.starting);
  const started = Date.now();
  let placedCount = 0;
  const placing = placeAll(sys.client, batch.orders, {
    keyPrefix: `chaos-${sys.namespace}`,
    concurrency: 8,
    onPlaced: (n) => {
      placedCount = n;
    },
  });

  // Faults, one after the other, while the orders flow.
  const kills = new Map<ServiceName, number>();
  const serverRestarts: Record<string, number> = {};
  for (const service of [...SERVICES, ...SERVICES]) {
    await pause(3_000 + random() * 9_000);
    note(
      `SIGKILL ${service}-service (pid ${sys.supervisor.pid(service)}; ${placedCount} orders placed)`,
    );
    await sys.supervisor.kill(service, 'SIGKILL');
    kills.set(service, (kills.get(service) ?? 0) + 1);
  }
  await pause(2_000);
  serverRestarts['kafka'] = await restartServer('kafka');
  await pause(5_000);
  serverRestarts['database'] = await restartServer('database');
  const lastFault = Date.now();

  const ids = await placing;
  const { orders, quiet } = await waitUntilTerminal(sys.client, ids, { timeoutMs: 900_000 });
  const quietAfter = (Date.now() - lastFault) / 1000;
  const total = (Date.now() - started) / 1000;
  const views = [...orders.values()];
  if (!quiet) console.log(await explainPending(sys, views));
  const violations = await settledInvariants(sys.client, batch.starting, views);
  if (violations.length > 0) console.log(await explainViolations(sys, views, violations));
  const restarts = Object.fromEntries(sys.supervisor.restarts);
  console.log(
    [
      `chaos run: ${ORDERS} orders (${ORDERS / 2} per mode), ${[...kills.values()].reduce((a, b) => a + b, 0)} SIGKILLs (${[...kills].map(([s, n]) => `${s} ${n}`).join(', ')}),`,
      `  service restarts by the supervisor: ${JSON.stringify(restarts)}`,
      `  Kafka restarted in ${serverRestarts['kafka']} ms, the database in ${serverRestarts['database']} ms`,
      `  all orders terminal ${quietAfter.toFixed(1)} s after the last fault, ${total.toFixed(1)} s after the first order`,
      `  outcomes: ${summarize(views)
        .map(([r, n]) => `${n} ${r}`)
        .join('; ')}`,
      `  invariant violations: ${violations.length}`,
    ].join('\n'),
  );
  expect(quiet).toBe(true);
  // The batch exercises every path: approvals and both refusals, in both modes.
  const rows = summarize(views);
  for (const mode of ['choreography', 'orchestration']) {
    for (const outcome of ['APPROVED', 'REJECTED (stock)', 'REJECTED (credit)']) {
      expect(
        rows.some(([r, n]) => r === `${mode} ${outcome}` && n > 0),
        `${mode} ${outcome}`,
      ).toBe(true);
    }
  }
  expect(violations).toEqual([]);
  for (const service of SERVICES)
    expect(sys.supervisor.restarts.get(service) ?? 0).toBeGreaterThanOrEqual(2);
}, 1_800_000);
