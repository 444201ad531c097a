/**
 * The order workflow on Temporal, for the peer comparison: a worker of the workflows of
 * `temporal-workflows.ts` (each step an activity that makes one durable state change in
 * PostgreSQL, idempotent by order), and a client that starts one per `POST /orders` and answers
 * when it has ended; the N-step workflow by `POST /steps {key, count}`. Worker and client with
 * the SDK's defaults.
 *
 * `node --import tsx temporal-app.ts` with TEMPORAL_APP_PORT, TEMPORAL_ADDRESS (the server's
 * gRPC front end) and TEMPORAL_APP_DATABASE_URL (the order tables).
 */
import { createRequire } from 'node:module';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pg from 'pg';
import { orderTables, servePeerApp } from './order-tables.js';
import type { PeerActivities } from './temporal-workflows.js';
import { orderFulfillment, steps } from './temporal-workflows.js';
import { requiredEnv as env } from '../required-env.js';

const require = createRequire(import.meta.url);
const TASK_QUEUE = 'sagaflow-bench';

const pool = new pg.Pool({ connectionString: env('TEMPORAL_APP_DATABASE_URL'), max: 20 });
const tables = orderTables(pool);
await tables.prepare();

Runtime.install({ logger: new DefaultLogger('WARN') });
const address = env('TEMPORAL_ADDRESS');
const activities: PeerActivities = {
  hold: tables.hold,
  unhold: tables.unhold,
  authorize: tables.authorize,
  decide: tables.decide,
  schedule: tables.schedule,
  record: tables.record,
};
const worker = await Worker.create({
  connection: await NativeConnection.connect({ address }),
  taskQueue: TASK_QUEUE,
  workflowsPath: require.resolve('./temporal-workflows.ts'),
  activities,
});
const running = worker.run();
const client = new Client({ connection: await Connection.connect({ address }) });

servePeerApp({
  name: 'temporal app',
  port: Number(env('TEMPORAL_APP_PORT')),
  tables,
  runOrder: (input) =>
    client.workflow.execute(orderFulfillment, {
      taskQueue: TASK_QUEUE,
      workflowId: input.orderId,
      args: [input],
    }),
  runSteps: (input) =>
    client.workflow.execute(steps, { taskQueue: TASK_QUEUE, workflowId: input.key, args: [input] }),
});

const stop = () => {
  worker.shutdown();
  void running.then(() => pool.end()).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
