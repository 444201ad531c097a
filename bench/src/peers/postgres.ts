import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackages, postgresqlBinDir, postgresqlNeed } from '@sagaflow/infra-local';
import { freePort } from '@sagaflow/reference';
import { waitFor } from '@sagaflow/testing/node';
import { commandSays, startChild, type Child } from '../children.js';

/** The newest PostgreSQL server installed from Debian's packages, installing it if need be. */
async function serverBinDir(): Promise<string> {
  await ensureDebianPackages([postgresqlNeed]);
  return postgresqlBinDir()!;
}

/** The version of the PostgreSQL server the benchmark uses, or 'not installed'. */
export function postgresVersion(): string {
  const bin = postgresqlBinDir();
  if (bin === undefined) return 'not installed';
  try {
    return execFileSync(path.join(bin, 'postgres'), ['--version'], {
      encoding: 'utf8',
    })
      .trim()
      .replace(/^postgres \(PostgreSQL\) /, '');
  } catch {
    return 'not installed';
  }
}

/** A PostgreSQL server of the benchmark's own: fresh data, a free port, durable commits. */
export interface Postgres {
  readonly url: string;
  readonly version: string;
  readonly child: Child;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL on a fresh data directory (as the `postgres` user when run as root: the
 * server refuses root), with its defaults for durability (fsync, synchronous commit).
 */
export async function startPostgres(logDir: string): Promise<Postgres> {
  const bin = await serverBinDir();
  // The server refuses to run as root: as root, run it as Debian's `postgres` user.
  const user =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
          gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
        }
      : undefined;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sagaflow-bench-pg-'));
  chmodSync(dataDir, 0o700);
  if (user !== undefined) chownSync(dataDir, user.uid, user.gid);
  execFileSync(
    path.join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'],
    { stdio: 'ignore', ...(user ?? {}) },
  );
  const port = await freePort();
  const child = startChild({
    name: 'postgres',
    command: path.join(bin, 'postgres'),
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dataDir}`,
      '-c',
      'max_connections=200',
    ],
    logDir,
    ...(user === undefined ? {} : { user }),
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    await child.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => commandSays(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]),
      { description: 'PostgreSQL accepting connections', timeoutMs: 60_000, intervalMs: 200 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, version: path.basename(path.dirname(bin)), child, stop };
}
