import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgresPeer, type PeerOptions, type PeerSystem } from './postgres-peer.js';

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

/** Starts PostgreSQL (fresh data) and the DBOS app of the order workflow, and seeds it. */
export function startDbos(options: PeerOptions): Promise<PeerSystem> {
  return startPostgresPeer({
    ...options,
    name: 'dbos',
    module: appModule,
    databases: ['bench_app', 'bench_dbos'],
    env: (url) => ({
      DBOS_APP_DATABASE_URL: url('bench_app'),
      DBOS_SYSTEM_DATABASE_URL: url('bench_dbos'),
    }),
  });
}
