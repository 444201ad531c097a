/**
 * One process of the benchmark's N-step workflow system: `STEPS_ROLE=participant` runs the
 * ledger's service (its command topic, its relay), `STEPS_ROLE=orchestrator` the workflows of
 * every length, started by `POST /workflows/steps-<n>` (see `workflowRoutes`).
 *
 * `node --import tsx app.ts` with STEPS_ROLE, STEPS_NAMESPACE, STEPS_PARTITIONS, PORT,
 * KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL.
 */
import { workflowRoutes } from '@sagaflow/admin';
import { Orchestrator, SagaflowService } from '@sagaflow/core';
import { PrometheusMetrics } from '@sagaflow/observability';
import { Registry } from 'prom-client';
import { listen, realAdapters, serviceApp, type ReferenceService } from '@sagaflow/reference';
import { stepsDomain, stepsSchemaDirs } from './domain.js';
import { requiredEnv as env } from '../required-env.js';

const role = env('STEPS_ROLE');
if (role !== 'participant' && role !== 'orchestrator') {
  throw new Error(`STEPS_ROLE must be 'participant' or 'orchestrator' (got '${role}')`);
}
const partitions = Number(env('STEPS_PARTITIONS'));
const domain = stepsDomain(env('STEPS_NAMESPACE'));
const name = domain.names.service(role);
// The service's metrics, where the adapters count their round trips (the benchmark reads them).
const registry = new Registry();
const metrics = new PrometheusMetrics(registry);
const ports = await realAdapters(
  {
    kafkaBrokers: env('KAFKA_BROKERS').split(','),
    schemaRegistryUrl: env('SCHEMA_REGISTRY_URL'),
    mongodbUrl: env('MONGODB_URL'),
  },
  { schemaDirs: stepsSchemaDirs },
)(name, domain.names.database, metrics);
const onError = (error: unknown, where: string) =>
  process.stderr.write(`${name} ${where}: ${String(error)}\n`);

let running: {
  start(): Promise<void>;
  stop(): Promise<void>;
  readiness: ReferenceService['readiness'];
};
let routes: Parameters<typeof serviceApp>[0]['routes'] = () => {};
if (role === 'participant') {
  running = new SagaflowService({
    name,
    store: ports.store,
    bus: ports.bus,
    serde: ports.serde,
    partitions,
    onError,
    entities: [domain.ledger],
    commandEndpoints: [domain.endpoint],
  });
} else {
  const orchestrator = new Orchestrator({
    name,
    store: ports.store,
    timers: ports.timers,
    bus: ports.bus,
    serde: ports.serde,
    workflows: domain.workflows,
    entityType: domain.names.workflow,
    partitions,
    onError,
  });
  running = orchestrator;
  // The benchmark's own process, on the loopback interface only: its load needs no token.
  routes = (app) => app.use(workflowRoutes(orchestrator, { allowNoToken: true }));
}
const readiness = () => running.readiness();
const service = await listen(
  {
    name,
    app: serviceApp({ service: name, readiness, routes, registry }).app,
    start: () => running.start(),
    stop: async () => {
      await running.stop();
      await ports.close();
    },
    readiness,
  },
  { port: Number(env('PORT')), host: '127.0.0.1' },
);
process.stdout.write(`${name} ready on ${service.port}\n`);
const stop = () => {
  void service.stop().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
