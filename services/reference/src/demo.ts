import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ReferenceClient } from './client.js';
import { startEmbedded } from './embedded.js';
import { defaultPorts } from '@sagaflow/reference-contracts';
import { loadOrchestratorConfig } from '@sagaflow/orchestrator-service';
import {
  approveLargeOrder,
  mixedBatch,
  placeAll,
  seed,
  settledInvariants,
  summarize,
  waitUntilTerminal,
} from './scenario.js';
import { MAX_REPLICAS, participantServices, startReferenceProcesses } from './processes.js';
import { REPLICA_PORT_STEP } from './supervisor.js';

const usage = `Usage: pnpm demo [--infra embedded|local] [--replicas N] [--orders N] [--exit]

  --infra embedded  every service in this process on in-memory adapters (default; needs nothing but Node)
  --infra local     each service its own process on Kafka, the schema registry and MongoDB/FerretDB:
                    KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL if set, else the local servers
                    of 'pnpm infra:up' (started if needed); dead services are restarted
  --replicas N      with --infra local: N processes of each participant service (order, inventory,
                    payment, shipping; replica k on the service's port + 100·k, e.g. inventory on
                    3002 and 3102) sharing its work and its outbox shards (default 1, at most 4)
  --orders N        orders in the batch (default 24)
  --exit            stop after the summary instead of running until Ctrl-C

Environment: APPROVAL_THRESHOLD (cents; default 1000000) and APPROVAL_TIMEOUT_MS (default
86400000): orchestrated orders of at least that total wait that long for a person's approval
(POST /orders/:id/approval); the demo places one such order and approves it.`;

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n\n${usage}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      infra: { type: 'string' },
      orders: { type: 'string', default: '24' },
      replicas: { type: 'string', default: '1' },
      exit: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const serversGiven = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URL'].every(
  (v) => (process.env[v] ?? '') !== '',
);
const infra = args.infra ?? (serversGiven ? 'local' : 'embedded');
if (infra !== 'embedded' && infra !== 'local')
  fail(`--infra must be 'embedded' or 'local' (got '${infra}')`);
const replicas = Number(args.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS)
  fail(`--replicas must be an integer from 1 to ${MAX_REPLICAS} (got '${args.replicas}')`);
if (replicas > 1 && infra !== 'local')
  fail(`--replicas ${replicas} needs --infra local: the embedded system is one process`);
const count = Number(args.orders);
if (!Number.isInteger(count) || count < 1 || count > 10_000)
  fail(`--orders must be an integer from 1 to 10000 (got '${args.orders}')`);

// When large orders wait for approval: the orchestrator reads the same variables (a process of
// its own inherits them with --infra local).
let approval;
try {
  approval = loadOrchestratorConfig(process.env);
} catch (error) {
  fail((error as Error).message);
}
const { approvalThreshold, approvalTimeoutMs } = approval;

const say = (line: string) => process.stdout.write(`${line}\n`);
let stop: () => Promise<void>;
let client: ReferenceClient;
let adminUrl: string;
let adminToken: string;

if (infra === 'embedded') {
  say('Starting the reference system in this process (in-memory adapters)…');
  const system = await startEmbedded({
    ...(process.env['ADMIN_TOKEN'] ? { adminToken: process.env['ADMIN_TOKEN'] } : {}),
  });
  ({ client, adminToken } = system);
  adminUrl = system.urls.admin;
  stop = () => system.stop();
} else {
  let servers = {
    kafkaBrokers: (process.env['KAFKA_BROKERS'] ?? '').split(','),
    schemaRegistryUrl: process.env['SCHEMA_REGISTRY_URL'] ?? '',
    mongodbUrl: process.env['MONGODB_URL'] ?? '',
  };
  if (!serversGiven) {
    say('Starting the local servers (pnpm infra:up)…');
    const { infraUp, loadInfraConfig } = await import('@sagaflow/infra-local');
    const { env } = await infraUp(loadInfraConfig(), (m) => say(`  ${m}`));
    servers = {
      kafkaBrokers: env.KAFKA_BROKERS.split(','),
      schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
      mongodbUrl: env.MONGODB_URL,
    };
  }
  const logRoot = path.resolve('.sagaflow', 'demo-logs');
  say(`Starting each service as its own process (logs in ${logRoot})…`);
  let system;
  try {
    system = await startReferenceProcesses(servers, {
      logRoot,
      namespace: '',
      ports: defaultPorts,
      ...(process.env['ADMIN_TOKEN'] ? { adminToken: process.env['ADMIN_TOKEN'] } : {}),
      env: { LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info' },
      onEvent: (m) => say(`supervisor: ${m}`),
      readyTimeoutMs: 120_000,
      replicas,
    });
  } catch (error) {
    fail((error as Error).message);
  }
  ({ client, adminToken } = system);
  adminUrl = client.urls.admin;
  if (replicas > 1) {
    for (const s of participantServices) {
      const port = defaultPorts[s];
      const ports = Array.from({ length: replicas }, (_, k) => port + REPLICA_PORT_STEP * k);
      say(`  ${s}-service: ${replicas} processes, on ports ${ports.join(', ')}`);
    }
  }
  stop = () => system.stop();
}

const started = Date.now();
const runId = randomBytes(3).toString('hex');
const batch = mixedBatch(count, { seed: Date.now() % 100_000, prefix: `demo${runId}-` });
await seed(client, batch.starting);
say(`Placing ${count} orders (both modes; some must be refused for stock, some for credit)…`);
const ids = await placeAll(client, batch.orders, { keyPrefix: `demo-${runId}` });
const { orders, quiet } = await waitUntilTerminal(client, ids, { timeoutMs: 120_000 });
say('');
say(
  `${quiet ? 'All orders settled' : 'Not all orders settled'} in ${((Date.now() - started) / 1000).toFixed(1)} s:`,
);
for (const [row, n] of summarize([...orders.values()])) say(`  ${String(n).padStart(5)}  ${row}`);

// A large orchestrated order waits for a person's approval once its stock and credit are held.
const large = await approveLargeOrder(client, `demo${runId}-`, approvalThreshold, say);
say(
  `  (orders of at least ${approvalThreshold} cents wait, APPROVAL_THRESHOLD; unanswered for ${approvalTimeoutMs} ms they are rejected, APPROVAL_TIMEOUT_MS)`,
);
say('');

// Settled orders can still have saga steps to end (an orchestrated order is approved one step
// before its shipment is scheduled; a rejection frees the stock after it): wait for them.
const violations = await settledInvariants(
  client,
  {
    stock: { ...batch.starting.stock, ...large.starting.stock },
    credit: { ...batch.starting.credit, ...large.starting.credit },
  },
  [...orders.values(), large.order],
  { timeoutMs: 30_000 },
);
say(
  violations.length === 0
    ? 'Invariants: stock, credit and shipments all match the approved orders.'
    : `Invariants broken:\n  ${violations.join('\n  ')}`,
);
say('');
say(`Admin API: ${adminUrl}/sagas  (Authorization: Bearer ${adminToken})`);
say(`Admin page: ${adminUrl}/  ·  orders: ${client.urls.order}/orders/<id>`);
const example = ids[0];
if (example !== undefined) say(`e.g. curl ${client.urls.order}/orders/${example}`);

const shutdown = async () => {
  say('Stopping…');
  await stop();
  process.exit(0);
};
if (args.exit) {
  await stop();
  process.exit(quiet && violations.length === 0 ? 0 : 1);
}
say('Running until Ctrl-C.');
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
