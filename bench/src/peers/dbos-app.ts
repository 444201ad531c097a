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
import express from 'express';
import pg from 'pg';
import type { WorkflowInput } from './workflow-input.js';
import { requiredEnv as env } from '../required-env.js';

const pool = new pg.Pool({ connectionString: env('DBOS_APP_DATABASE_URL'), max: 20 });
await pool.query(`
  CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, available bigint NOT NULL, holds jsonb NOT NULL DEFAULT '{}');
  CREATE TABLE IF NOT EXISTS customers (id text PRIMARY KEY, credit_limit bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0, orders jsonb NOT NULL DEFAULT '{}');
  CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, status text NOT NULL);
  CREATE TABLE IF NOT EXISTS shipments (id text PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS ledgers (id text PRIMARY KEY, recorded int NOT NULL);
`);

const hold = (input: WorkflowInput) =>
  DBOS.runStep(
    async () => {
      const held = await pool.query(
        `UPDATE stock SET available = available - $3, holds = holds || jsonb_build_object($2::text, $3::bigint)
         WHERE sku = $1 AND available >= $3 AND NOT holds ? $2`,
        [input.sku, input.orderId, input.quantity],
      );
      if (held.rowCount === 1) return true;
      const again = await pool.query('SELECT 1 FROM stock WHERE sku = $1 AND holds ? $2', [
        input.sku,
        input.orderId,
      ]);
      return again.rowCount === 1;
    },
    { name: 'hold-stock' },
  );

const unhold = (input: WorkflowInput) =>
  DBOS.runStep(
    async () => {
      await pool.query(
        `UPDATE stock SET available = available + (holds->>$2)::bigint, holds = holds - $2
         WHERE sku = $1 AND holds ? $2`,
        [input.sku, input.orderId],
      );
    },
    { name: 'release-stock' },
  );

const authorize = (input: WorkflowInput) =>
  DBOS.runStep(
    async () => {
      const taken = await pool.query(
        `UPDATE customers SET reserved = reserved + $3, orders = orders || jsonb_build_object($2::text, $3::bigint)
         WHERE id = $1 AND reserved + $3 <= credit_limit AND NOT orders ? $2`,
        [input.customerId, input.orderId, input.amount],
      );
      if (taken.rowCount === 1) return true;
      const again = await pool.query('SELECT 1 FROM customers WHERE id = $1 AND orders ? $2', [
        input.customerId,
        input.orderId,
      ]);
      return again.rowCount === 1;
    },
    { name: 'authorize-payment' },
  );

const decide = (input: WorkflowInput, status: 'APPROVED' | 'REJECTED') =>
  DBOS.runStep(
    async () => {
      await pool.query('INSERT INTO orders (id, status) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        input.orderId,
        status,
      ]);
    },
    { name: status === 'APPROVED' ? 'approve-order' : 'reject-order' },
  );

const schedule = (input: WorkflowInput) =>
  DBOS.runStep(
    async () => {
      await pool.query('INSERT INTO shipments (id) VALUES ($1) ON CONFLICT DO NOTHING', [
        input.orderId,
      ]);
    },
    { name: 'schedule-shipment' },
  );

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
      await DBOS.runStep(
        async () => {
          await pool.query(
            `INSERT INTO ledgers (id, recorded) VALUES ($1, $2 + 1)
             ON CONFLICT (id) DO UPDATE SET recorded = $2 + 1 WHERE ledgers.recorded <= $2`,
            [input.key, step],
          );
        },
        { name: `step-${step + 1}` },
      );
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

const app = express();
app.use(express.json());
app.put('/stock/:sku', (req, res, next) => {
  pool
    .query(
      'INSERT INTO stock (sku, available) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET available = $2',
      [req.params.sku, (req.body as { available: number }).available],
    )
    .then(() => res.json({}), next);
});
app.put('/customers/:id', (req, res, next) => {
  pool
    .query(
      'INSERT INTO customers (id, credit_limit) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET credit_limit = $2',
      [req.params.id, (req.body as { creditLimit: number }).creditLimit],
    )
    .then(() => res.json({}), next);
});
app.post('/orders', (req, res, next) => {
  const input = req.body as WorkflowInput;
  DBOS.startWorkflow(orderFulfillment, { workflowID: input.orderId })(input)
    .then((handle) => handle.getResult())
    .then((outcome) => res.json(outcome), next);
});
app.post('/steps', (req, res, next) => {
  const input = req.body as { key: string; count: number };
  DBOS.startWorkflow(steps, { workflowID: input.key })(input)
    .then((handle) => handle.getResult())
    .then((outcome) => res.json(outcome), next);
});
const port = Number(env('DBOS_APP_PORT'));
app.listen(port, '127.0.0.1', () => process.stdout.write(`dbos app ready on ${port}\n`));

const stop = () => {
  void DBOS.shutdown()
    .then(() => pool.end())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
