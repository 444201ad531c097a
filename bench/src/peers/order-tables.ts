/**
 * The durable state changes of the peers that keep their domain in PostgreSQL (DBOS, Temporal):
 * the order workflow's four steps and their compensation, each one conditional UPDATE or INSERT,
 * idempotent by order (a retried step changes nothing twice), and the N-step workflow's ledger.
 * And the HTTP app around them that the benchmark drives: seeding, then one call per workflow
 * that answers when the workflow has ended.
 */
import express from 'express';
import type pg from 'pg';
import type { WorkflowInput } from './workflow-input.js';

/** The order workflow's tables in PostgreSQL. */
export function orderTables(pool: pg.Pool) {
  return {
    /** Creates the tables (if missing). */
    prepare: async () => {
      await pool.query(`
        CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, available bigint NOT NULL, holds jsonb NOT NULL DEFAULT '{}');
        CREATE TABLE IF NOT EXISTS customers (id text PRIMARY KEY, credit_limit bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0, orders jsonb NOT NULL DEFAULT '{}');
        CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, status text NOT NULL);
        CREATE TABLE IF NOT EXISTS shipments (id text PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS ledgers (id text PRIMARY KEY, recorded int NOT NULL);
      `);
    },
    setStock: async (sku: string, available: number) => {
      await pool.query(
        'INSERT INTO stock (sku, available) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET available = $2',
        [sku, available],
      );
    },
    setCredit: async (customerId: string, creditLimit: number) => {
      await pool.query(
        'INSERT INTO customers (id, credit_limit) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET credit_limit = $2',
        [customerId, creditLimit],
      );
    },
    /** Holds the order's stock; true when held (now or by an earlier attempt). */
    hold: async (input: WorkflowInput): Promise<boolean> => {
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
    /** Gives the order's held stock back (the compensation of `hold`). */
    unhold: async (input: WorkflowInput): Promise<void> => {
      await pool.query(
        `UPDATE stock SET available = available + (holds->>$2)::bigint, holds = holds - $2
         WHERE sku = $1 AND holds ? $2`,
        [input.sku, input.orderId],
      );
    },
    /** Reserves the order's amount of the customer's credit; true when reserved. */
    authorize: async (input: WorkflowInput): Promise<boolean> => {
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
    decide: async (input: WorkflowInput, status: 'APPROVED' | 'REJECTED'): Promise<void> => {
      await pool.query('INSERT INTO orders (id, status) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        input.orderId,
        status,
      ]);
    },
    schedule: async (input: WorkflowInput): Promise<void> => {
      await pool.query('INSERT INTO shipments (id) VALUES ($1) ON CONFLICT DO NOTHING', [
        input.orderId,
      ]);
    },
    /** Step `step` of the N-step workflow `key` records itself (once). */
    record: async (key: string, step: number): Promise<void> => {
      await pool.query(
        `INSERT INTO ledgers (id, recorded) VALUES ($1, $2 + 1)
         ON CONFLICT (id) DO UPDATE SET recorded = $2 + 1 WHERE ledgers.recorded <= $2`,
        [key, step],
      );
    },
  };
}

/** The tables' operations. */
export type OrderTables = ReturnType<typeof orderTables>;

/**
 * The HTTP app the benchmark drives a PostgreSQL peer through: `PUT /stock/:sku
 * {available}` and `PUT /customers/:id {creditLimit}` seed; `POST /orders` (a
 * {@link WorkflowInput}) and `POST /steps {key, count}` run a workflow and answer its outcome
 * when it has ended. Prints `<name> ready on <port>` once listening.
 */
export function servePeerApp(options: {
  readonly name: string;
  readonly port: number;
  readonly tables: OrderTables;
  readonly runOrder: (input: WorkflowInput) => Promise<string>;
  readonly runSteps: (input: { key: string; count: number }) => Promise<string>;
}): void {
  const { tables } = options;
  const app = express();
  app.use(express.json());
  app.put('/stock/:sku', (req, res, next) => {
    tables
      .setStock(req.params.sku, (req.body as { available: number }).available)
      .then(() => res.json({}), next);
  });
  app.put('/customers/:id', (req, res, next) => {
    tables
      .setCredit(req.params.id, (req.body as { creditLimit: number }).creditLimit)
      .then(() => res.json({}), next);
  });
  app.post('/orders', (req, res, next) => {
    options.runOrder(req.body as WorkflowInput).then((outcome) => res.json(outcome), next);
  });
  app.post('/steps', (req, res, next) => {
    options
      .runSteps(req.body as { key: string; count: number })
      .then((outcome) => res.json(outcome), next);
  });
  app.listen(options.port, '127.0.0.1', () =>
    process.stdout.write(`${options.name} ready on ${options.port}\n`),
  );
}
