import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '@sagaflow/reference';
import { waitFor } from '@sagaflow/testing/node';
import { sendJson, tsxChild, type Child } from '../children.js';
import type { LoadTarget } from '../load.js';
import { callTarget, keyedCallTarget } from './workflow-input.js';
import { startPostgres } from './postgres.js';

const require = createRequire(import.meta.url);
const appModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dbos-app.ts');

/** The SDK's version (its package.json is not exported: read from beside its entry point). */
export const dbosVersion = (): string =>
  (
    JSON.parse(
      readFileSync(
        path.resolve(path.dirname(require.resolve('@dbos-inc/dbos-sdk')), '../../package.json'),
        'utf8',
      ),
    ) as { version: string }
  ).version;

/** DBOS running: PostgreSQL and the app. */
export interface DbosSystem extends LoadTarget {
  readonly children: readonly Child[];
  readonly postgresVersion: string;
  /** Runs the N-step workflow of growth by saga length instead of the order workflow. */
  steps(count: number): LoadTarget;
  stop(): Promise<void>;
}

/** Starts PostgreSQL (fresh data) and the DBOS app of the order workflow, and seeds it. */
export async function startDbos(options: {
  readonly logRoot: string;
  readonly stock: Readonly<Record<string, number>>;
  readonly credit: Readonly<Record<string, number>>;
}): Promise<DbosSystem> {
  const logDir = path.join(options.logRoot, `dbos-${Date.now().toString(36)}`);
  const postgres = await startPostgres(logDir);
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE bench_app');
    await admin.query('CREATE DATABASE bench_dbos');
  } finally {
    await admin.end();
  }
  const port = await freePort();
  const app = tsxChild({
    name: 'dbos-app',
    module: appModule,
    logDir,
    env: {
      DBOS_APP_PORT: String(port),
      DBOS_APP_DATABASE_URL: postgres.url.replace(/\/postgres$/, '/bench_app'),
      DBOS_SYSTEM_DATABASE_URL: postgres.url.replace(/\/postgres$/, '/bench_dbos'),
    },
  });
  const stop = async () => {
    await app.stop();
    await postgres.stop();
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(() => Promise.resolve(app.output().includes('dbos app ready on')), {
      description: 'the DBOS app listening',
      timeoutMs: 90_000,
      intervalMs: 200,
    });
    for (const [sku, available] of Object.entries(options.stock))
      await sendJson(`${base}/stock/${sku}`, { available }, { method: 'PUT' });
    for (const [customerId, creditLimit] of Object.entries(options.credit))
      await sendJson(`${base}/customers/${customerId}`, { creditLimit }, { method: 'PUT' });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (logs in ${logDir})`);
  }
  return {
    ...callTarget((input) => sendJson(`${base}/orders`, input)),
    steps: (count) => keyedCallTarget('w', (key) => sendJson(`${base}/steps`, { key, count })),
    children: [postgres.child, app],
    postgresVersion: postgres.version,
    stop,
  };
}
