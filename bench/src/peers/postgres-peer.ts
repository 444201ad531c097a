import path from 'node:path';
import pg from 'pg';
import { freePort } from '@sagaflow/reference';
import { waitFor } from '@sagaflow/testing/node';
import { sendJson, tsxChild, type Child } from '../children.js';
import type { LoadTarget } from '../load.js';
import { startPostgres } from './postgres.js';
import { callTarget, keyedCallTarget } from './workflow-input.js';

/** A peer running: its servers, its app (see `servePeerApp`), and the N-step workflow. */
export interface PeerSystem extends LoadTarget {
  readonly children: readonly Child[];
  /** Runs the N-step workflow of growth by saga length instead of the order workflow. */
  steps(count: number): LoadTarget;
  stop(): Promise<void>;
}

/** Where a peer logs, and the stock and credit it is seeded with. */
export interface PeerOptions {
  readonly logRoot: string;
  readonly stock: Readonly<Record<string, number>>;
  readonly credit: Readonly<Record<string, number>>;
}

/** What a peer starts before its app: a server of its own (e.g. Temporal's), if any. */
export interface PeerServers {
  readonly children: readonly Child[];
  /** Given to the app. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * Starts a peer that keeps the order tables in PostgreSQL: a fresh PostgreSQL with the given
 * databases, the peer's own servers (if any), then its app (a module serving `servePeerApp`,
 * given `<NAME>_APP_PORT`, the database URLs as `env` names them, and the servers' env), and
 * seeds stock and credit through it.
 */
export async function startPostgresPeer(
  options: PeerOptions & {
    /** e.g. `dbos`: the logs' folder, the app's child and its ready line (`<name> app ready on`). */
    readonly name: string;
    readonly module: string;
    readonly logRoot: string;
    /** Databases to create; `env` maps their URLs to the app's environment. */
    readonly databases: readonly string[];
    readonly env: (databaseUrl: (name: string) => string) => NodeJS.ProcessEnv;
    readonly servers?: (logDir: string) => Promise<PeerServers>;
  },
): Promise<PeerSystem & { readonly postgresVersion: string }> {
  const logDir = path.join(options.logRoot, `${options.name}-${Date.now().toString(36)}`);
  const postgres = await startPostgres(logDir);
  const stops: (() => Promise<void>)[] = [() => postgres.stop()];
  const children: Child[] = [postgres.child];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  const base = { url: '' };
  try {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      for (const name of options.databases) await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const servers = await options.servers?.(logDir);
    if (servers !== undefined) {
      stops.push(() => servers.stop());
      children.push(...servers.children);
    }
    const port = await freePort();
    const app = tsxChild({
      name: `${options.name}-app`,
      module: options.module,
      logDir,
      env: {
        [`${options.name.toUpperCase()}_APP_PORT`]: String(port),
        ...options.env((name) => postgres.url.replace(/\/postgres$/, `/${name}`)),
        ...servers?.env,
      },
    });
    stops.push(() => app.stop());
    children.push(app);
    base.url = `http://127.0.0.1:${port}`;
    await waitFor(() => Promise.resolve(app.output().includes(`${options.name} app ready on`)), {
      description: `the ${options.name} app listening`,
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    for (const [sku, available] of Object.entries(options.stock))
      await sendJson(`${base.url}/stock/${sku}`, { available }, { method: 'PUT' });
    for (const [customerId, creditLimit] of Object.entries(options.credit))
      await sendJson(`${base.url}/customers/${customerId}`, { creditLimit }, { method: 'PUT' });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (logs in ${logDir})`);
  }
  return {
    ...callTarget((input) => sendJson(`${base.url}/orders`, input)),
    steps: (count) => keyedCallTarget('w', (key) => sendJson(`${base.url}/steps`, { key, count })),
    children,
    postgresVersion: postgres.version,
    stop,
  };
}
