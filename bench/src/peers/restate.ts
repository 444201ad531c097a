import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '@sagaflow/infra-local';
import { waitFor } from '@sagaflow/testing/node';
import { sendJson, startChild, tsxChild, type Child } from '../children.js';
import type { LoadTarget } from '../load.js';
import { callTarget, keyedCallTarget } from './workflow-input.js';

const require = createRequire(import.meta.url);
const appModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'restate-app.ts');

/** The Restate server's binary, from the npm package `@restatedev/restate-server`. */
function serverBinary(): string {
  const main = require.resolve('@restatedev/restate-server/package.json');
  const fromServer = createRequire(main);
  return fromServer.resolve(
    `@restatedev/restate-server-${os.platform()}-${os.arch()}/bin/restate-server`,
  );
}

export const restateVersion = (): string =>
  (require('@restatedev/restate-server/package.json') as { version: string }).version;

/** Restate running: its server and the app endpoint. */
export interface RestateSystem extends LoadTarget {
  readonly children: readonly Child[];
  /** Runs the N-step workflow of growth by saga length instead of the order workflow. */
  steps(count: number): LoadTarget;
  stop(): Promise<void>;
}

/**
 * Starts a Restate server (fresh data in a temporary directory, its own free ports) and the
 * order workflow's endpoint, registers the endpoint and seeds stock and credit.
 */
export async function startRestate(options: {
  readonly logRoot: string;
  readonly stock: Readonly<Record<string, number>>;
  readonly credit: Readonly<Record<string, number>>;
}): Promise<RestateSystem> {
  const [ingress, admin, node, app] = (await freePorts(4)) as [number, number, number, number];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sagaflow-bench-restate-'));
  const logDir = path.join(options.logRoot, `restate-${path.basename(dataDir)}`);
  const server = startChild({
    name: 'restate-server',
    command: serverBinary(),
    args: ['--base-dir', dataDir, '--listen-mode', 'tcp', '--no-logo', '--node-name', 'bench'],
    logDir,
    env: {
      RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
      RESTATE_BIND_ADDRESS: `127.0.0.1:${node}`,
      RESTATE_LOG_FORMAT: 'compact',
      RESTATE_LOG_FILTER: 'warn',
    },
  });
  const endpoint = tsxChild({
    name: 'restate-app',
    module: appModule,
    logDir,
    env: { RESTATE_APP_PORT: String(app) },
  });
  const children = [server, endpoint];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  };
  const ingressUrl = `http://127.0.0.1:${ingress}`;
  const call = (pathname: string, body: unknown) => sendJson(`${ingressUrl}${pathname}`, body);
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${admin}/health`)).ok, {
      description: 'the Restate server answering',
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    await waitFor(() => Promise.resolve(endpoint.output().includes('restate app ready on')), {
      description: 'the Restate app listening',
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    await sendJson(`http://127.0.0.1:${admin}/deployments`, { uri: `http://127.0.0.1:${app}` });
    await waitFor(
      async () => {
        await call('/stock/sku-0/set', 0);
        return true;
      },
      { description: 'the Restate ingress taking calls', timeoutMs: 60_000, intervalMs: 200 },
    );
    for (const [sku, available] of Object.entries(options.stock))
      await call(`/stock/${sku}/set`, available);
    for (const [customerId, limit] of Object.entries(options.credit))
      await call(`/customer/${customerId}/set`, limit);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (logs in ${logDir})`);
  }
  return {
    ...callTarget((input) => call(`/orderFulfillment/${input.orderId}/run`, input)),
    steps: (count) => keyedCallTarget('w', (key) => call(`/steps/${key}/run`, count)),
    children,
    stop,
  };
}
