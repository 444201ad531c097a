/**
 * The order workflow on DBOS, for the peer comparison: a workflow of four steps, each one
 * durable state change (a conditional UPDATE or INSERT in PostgreSQL, idempotent by order),
 * checkpointed by DBOS in its system database; a refused payment releases the stock and
 * rejects the order. Started by `POST /orders`, which answers when the workflow has ended.
 * And the N-step workflow of growth by saga length (`POST /steps {key, count}`).
 *
 * `node --import tsx dbos-app.ts` with DBOS_APP_PORT, DBOS_APP_DATABASE_URL (the order tables)
 * and DBOS_SYSTEM_DATABASE_URL.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { orderTables, servePeerApp } from './order-tables.js';
import type { WorkflowInput } from './workflow-input.js';
import { requiredEnv as env } from '../required-env.js';

const pool = new pg.Pool({ connectionString: env('DBOS_APP_DATABASE_URL'), max: 20 });
const tables = orderTables(pool);
await tables.prepare();

const hold = (input: WorkflowInput) =>
  DBOS.runStep(() => tables.hold(input), { name: 'hold-stock' });
const unhold = (input: WorkflowInput) =>
  DBOS.runStep(() => tables.unhold(input), { name: 'release-stock' });
const authorize = (input: WorkflowInput) =>
  DBOS.runStep(() => tables.authorize(input), { name: 'authorize-payment' });
const decide = (input: WorkflowInput, status: 'APPROVED' | 'REJECTED') =>
  DBOS.runStep(() => tables.decide(input, status), {
    name: status === 'APPROVED' ? 'approve-order' : 'reject-order',
  });
const schedule = (input: WorkflowInput) =>
  DBOS.runStep(() => tables.schedule(input), { name: 'schedule-shipment' });

const orderFulfillment = DBOS.registerWorkflow(
  async (input: WorkflowInput): Promise<'completed' | 'compensated'> => {
    if (!(await hold(input))) {
      await decide(input, 'REJECTED');
      return 'compensated';
    }
    if (!(await authorize(input))) {
      await unhold(input);
      await decide(input, 'REJECTED');
      return 'compensated';
    }
    await decide(input, 'APPROVED');
    await schedule(input);
    return 'completed';
  },
  { name: 'orderFulfillment' },
);

/** Growth by saga length: `count` steps, each recording itself in the workflow's ledger row. */
const steps = DBOS.registerWorkflow(
  async (input: { key: string; count: number }): Promise<'completed'> => {
    for (let step = 0; step < input.count; step++) {
      await DBOS.runStep(() => tables.record(input.key, step), { name: `step-${step + 1}` });
    }
    return 'completed';
  },
  { name: 'steps' },
);

DBOS.setConfig({
  name: 'sagaflow-bench',
  systemDatabaseUrl: env('DBOS_SYSTEM_DATABASE_URL'),
  logLevel: 'warn',
});
await DBOS.launch();

servePeerApp({
  name: 'dbos app',
  port: Number(env('DBOS_APP_PORT')),
  tables,
  runOrder: (input) =>
    DBOS.startWorkflow(orderFulfillment, { workflowID: input.orderId })(input).then((handle) =>
      handle.getResult(),
    ),
  runSteps: (input) =>
    DBOS.startWorkflow(steps, { workflowID: input.key })(input).then((handle) =>
      handle.getResult(),
    ),
});

const stop = () => {
  void DBOS.shutdown()
    .then(() => pool.end())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
