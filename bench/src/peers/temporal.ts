import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { goToolPath, installGoTool } from '@sagaflow/infra-local';
import { freePorts } from '@sagaflow/infra-local';
import { waitFor } from '@sagaflow/testing/node';
import { commandSays, startChild } from '../children.js';
import { startPostgresPeer, type PeerOptions, type PeerSystem } from './postgres-peer.js';

const require = createRequire(import.meta.url);
const appModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'temporal-app.ts');

/** The Temporal CLI whose development server the benchmark runs (Temporal Server 1.29). */
export const TEMPORAL_CLI_VERSION = '1.5.1';

const CLI = {
  name: 'temporal-cli',
  module: 'github.com/temporalio/cli/cmd/temporal',
  version: TEMPORAL_CLI_VERSION,
};

/** The CLI, built from its Go module on first use into the servers' cache. */
const temporalCli = () => installGoTool(CLI);

/** The versions of the CLI (and its server) and of the TypeScript SDK, for the results. */
export async function temporalVersions(): Promise<{ server: string; sdk: string }> {
  const sdk = (require('@temporalio/worker/package.json') as { version: string }).version;
  // Read from the CLI if a run installed it: the results never build it for a version string.
  const { bin: cli, installed } = await goToolPath(CLI);
  if (!installed) return { server: 'not installed', sdk };
  try {
    const server = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
    // Built with `go install`, the CLI calls itself 0.0.0-DEV: it is the version installed.
    return {
      server: server
        .replace(/^temporal version /, '')
        .replace('0.0.0-DEV', `CLI ${TEMPORAL_CLI_VERSION}`),
      sdk,
    };
  } catch {
    return { server: 'not installed', sdk };
  }
}

/**
 * Starts Temporal's development server (SQLite in a fresh temporary folder, its own free ports,
 * no web UI), PostgreSQL for the order tables, and the app (worker and client) of the order
 * workflow, and seeds it.
 */
export function startTemporal(options: PeerOptions): Promise<PeerSystem> {
  return startPostgresPeer({
    ...options,
    name: 'temporal',
    module: appModule,
    databases: ['bench_app'],
    env: (url) => ({ TEMPORAL_APP_DATABASE_URL: url('bench_app') }),
    servers: async (logDir) => {
      const cli = await temporalCli();
      const [grpc, http, metrics] = (await freePorts(3)) as [number, number, number];
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sagaflow-bench-temporal-'));
      const server = startChild({
        name: 'temporal-server',
        command: cli,
        args: [
          'server',
          'start-dev',
          '--headless',
          '--ip',
          '127.0.0.1',
          '--port',
          String(grpc),
          '--http-port',
          String(http),
          '--metrics-port',
          String(metrics),
          '--db-filename',
          path.join(dataDir, 'temporal.db'),
          '--log-level',
          'warn',
        ],
        logDir,
      });
      const stop = async () => {
        await server.stop();
        rmSync(dataDir, { recursive: true, force: true });
      };
      const address = `127.0.0.1:${grpc}`;
      try {
        await waitFor(
          () =>
            commandSays(cli, ['operator', 'cluster', 'health', '--address', address], 'SERVING'),
          { description: 'the Temporal server serving', timeoutMs: 60_000, intervalMs: 500 },
        );
      } catch (error) {
        await stop();
        throw error;
      }
      return { children: [server], env: { TEMPORAL_ADDRESS: address }, stop };
    },
  });
}
