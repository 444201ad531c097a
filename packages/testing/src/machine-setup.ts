import { chromiumNeed, ensureDebianPackages, postgresqlNeed } from '@sagaflow/infra-local';

/**
 * Vitest global setup of the end-to-end tier: installs what its tests need from Debian's
 * packages (Chromium for the admin page test, PostgreSQL for the benchmark's DBOS peer) when the
 * run is root, as `pnpm bench` does; otherwise fails at once with the one command to run.
 */
export default async function setup(): Promise<void> {
  await ensureDebianPackages([chromiumNeed, postgresqlNeed], (message) =>
    process.stderr.write(`sagaflow: ${message}\n`),
  );
}
