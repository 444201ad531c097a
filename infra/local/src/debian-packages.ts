import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findOnPath } from './prerequisites.js';

const run = promisify(execFile);

/** A Debian package that something on this machine needs. */
export interface DebianNeed {
  /** e.g. `chromium`. */
  readonly package: string;
  /** True when it is installed (an executable or a folder is there). */
  readonly present: () => boolean;
  /** Who needs it, for the message when it cannot be installed. */
  readonly why: string;
}

/** Debian's Chromium, for the admin page test (headless, never a downloaded browser). */
export const chromiumNeed: DebianNeed = {
  package: 'chromium',
  present: () => existsSync(process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'),
  why: "the admin page test drives Debian's Chromium",
};

const POSTGRESQL_LIB = '/usr/lib/postgresql';

/** The `bin` folder of the newest PostgreSQL server from Debian's packages, if installed. */
export function postgresqlBinDir(): string | undefined {
  if (!existsSync(POSTGRESQL_LIB)) return undefined;
  const version = readdirSync(POSTGRESQL_LIB)
    .filter((v) => existsSync(path.join(POSTGRESQL_LIB, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return version === undefined ? undefined : path.join(POSTGRESQL_LIB, version, 'bin');
}

/** Debian's PostgreSQL server, for the benchmark's DBOS peer. */
export const postgresqlNeed: DebianNeed = {
  package: 'postgresql',
  present: () => postgresqlBinDir() !== undefined,
  why: "the benchmark's DBOS peer runs on PostgreSQL",
};

/** The command that installs these packages, as a person would type it. */
export const installCommand = (packages: readonly string[]) =>
  `apt-get install -y ${packages.join(' ')}`;

/**
 * Installs the Debian packages that are missing, as `pnpm bench` does: with `apt-get` when this
 * process runs as root (after `apt-get update` if the package lists do not have them yet);
 * otherwise it throws at once with the one command to run.
 */
export async function ensureDebianPackages(
  needs: readonly DebianNeed[],
  log: (message: string) => void = () => {},
): Promise<void> {
  const missing = needs.filter((need) => !need.present());
  if (missing.length === 0) return;
  const packages = missing.map((need) => need.package);
  const reasons = missing.map((need) => `${need.package}: ${need.why}`).join('; ');
  if (process.getuid?.() !== 0 || findOnPath('apt-get') === undefined) {
    throw new Error(
      `missing Debian packages (${reasons}); install them with 'sudo ${installCommand(packages)}'`,
    );
  }
  log(`installing ${packages.join(', ')} from Debian's packages (${reasons})`);
  const started = Date.now();
  const apt = (args: readonly string[]) =>
    run('apt-get', [...args], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 64 * 1024 * 1024,
    });
  try {
    await apt(['install', '-y', '-q', ...packages]);
  } catch {
    await apt(['update', '-q']);
    await apt(['install', '-y', '-q', ...packages]);
  }
  const still = missing.filter((need) => !need.present());
  if (still.length > 0) {
    throw new Error(
      `'${installCommand(packages)}' ran but ${still.map((n) => n.package).join(', ')} is still missing`,
    );
  }
  log(`installed ${packages.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
