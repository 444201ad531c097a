import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadInfraConfig } from './config.js';
import { installOnce, isInstalledIn } from './install-once.js';
import { runToCompletion } from './processes.js';

/**
 * A command built from a Go module with `go install` once, into the cache the local servers are
 * installed in (`<cacheDir>/<name>-<version>/bin/`), and its path. A first call builds it (minutes
 * on 2 cores; the log is `<cacheDir>/install-<name>-<version>.log`), later ones find it there.
 *
 * @example `await installGoTool({ name: 'temporal-cli', module: 'github.com/temporalio/cli/cmd/temporal', version: '1.5.1' })`
 */
/** Where {@link installGoTool} puts a command, and whether it is there (nothing is built). */
export async function goToolPath(options: {
  readonly name: string;
  readonly module: string;
  readonly version: string;
  readonly cacheDir?: string;
}): Promise<{ readonly bin: string; readonly installed: boolean }> {
  const cacheDir = options.cacheDir ?? loadInfraConfig().cacheDir;
  const dir = path.join(cacheDir, `${options.name}-${options.version}`);
  return {
    bin: path.join(dir, 'bin', path.basename(options.module)),
    installed: await isInstalledIn(dir),
  };
}

export async function installGoTool(options: {
  /** The cache folder's name for it, e.g. `temporal-cli`. */
  readonly name: string;
  /** The package path of the command, e.g. `github.com/temporalio/cli/cmd/temporal`. */
  readonly module: string;
  /** Without the `v`, e.g. `1.5.1`. */
  readonly version: string;
  /** @default the infra configuration's (`SAGAFLOW_INFRA_CACHE_DIR`, else `~/.cache/sagaflow`) */
  readonly cacheDir?: string;
}): Promise<string> {
  const { bin, installed } = await goToolPath(options);
  if (installed) return bin;
  const cacheDir = options.cacheDir ?? loadInfraConfig().cacheDir;
  const dir = path.dirname(path.dirname(bin));
  await mkdir(cacheDir, { recursive: true });
  const logFile = path.join(cacheDir, `install-${options.name}-${options.version}.log`);
  await installOnce(dir, async (staging) => {
    await runToCompletion(
      {
        command: 'go',
        args: ['install', `${options.module}@v${options.version}`],
        env: { GOTOOLCHAIN: 'local', GOBIN: path.join(staging, 'bin') },
      },
      logFile,
    ).catch((error: unknown) => {
      throw new Error(
        `building ${options.module}@v${options.version} failed (is Go installed? see ${logFile}): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    });
  });
  return bin;
}
