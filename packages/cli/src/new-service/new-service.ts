import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { syncTypesFile } from '@sagaflow/schema-registry';
import { CliError, exitCodes } from '../admin-client.js';
import { pascalCase, serviceFiles, type ServiceSpec } from './templates.js';

/** Options of {@link newService}. */
export interface NewServiceOptions {
  /** The service's package and folder name: kebab-case, e.g. `loyalty-points`. */
  readonly name: string;
  /** Where the search for the workspace (its `pnpm-workspace.yaml`) starts. */
  readonly from: string;
  /** The service's port when `PORT` is not set. @default 3100 */
  readonly port?: number;
  /** Run `pnpm install` afterwards, so that the package's links and the lockfile include it. @default true */
  readonly install?: boolean;
  /** Progress lines. @default ignore */
  readonly log?: (line: string) => void;
}

/** What {@link newService} made. */
export interface NewServiceResult {
  /** The workspace's root folder. */
  readonly workspace: string;
  /** The new service's folder. */
  readonly dir: string;
  /** The files written, relative to the workspace. */
  readonly files: readonly string[];
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The folder holding `pnpm-workspace.yaml`, from `from` upwards. */
function findWorkspace(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) {
      throw new CliError(
        `no pnpm workspace (pnpm-workspace.yaml) in ${path.resolve(from)} or above: run it inside the workspace that is to hold the service`,
        exitCodes.usage,
      );
    }
  }
}

/** A version range the workspace already depends on (its own lockfile then has it). */
async function versionIn(workspace: string, pkg: string, dependency: string): Promise<string> {
  const file = path.join(workspace, pkg, 'package.json');
  const manifest = JSON.parse(await readFile(file, 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const version = manifest.dependencies?.[dependency] ?? manifest.devDependencies?.[dependency];
  if (version === undefined) {
    throw new CliError(`${file} does not depend on ${dependency}`, exitCodes.failed);
  }
  return version;
}

/** The workspace's package names, with the folder of each, from its root and its packages' globs. */
async function packageNames(
  workspace: string,
  globs: readonly string[],
): Promise<Map<string, string>> {
  const dirs = ['.'];
  for (const glob of globs) {
    if (!glob.endsWith('/*')) dirs.push(glob);
    else {
      const parent = glob.slice(0, -2);
      const entries = await readdir(path.join(workspace, parent)).catch(() => [] as string[]);
      dirs.push(...entries.map((entry) => path.join(parent, entry)));
    }
  }
  const names = new Map<string, string>();
  for (const dir of dirs) {
    const text = await readFile(path.join(workspace, dir, 'package.json'), 'utf8').catch(() => '');
    const pkgName = text === '' ? undefined : (JSON.parse(text) as { name?: unknown }).name;
    if (typeof pkgName === 'string') names.set(pkgName, dir);
  }
  return names;
}

function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (error) =>
      reject(new CliError(`could not run ${command}: ${error.message}`, exitCodes.failed)),
    );
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new CliError(
              `'${command} ${args.join(' ')}' failed (exit ${code}) in ${cwd}`,
              exitCodes.failed,
            ),
          ),
    );
  });
}

/**
 * Writes `services/<name>/` in the workspace: one entity, one processor, their Avro schemas and
 * the types derived from them, a `main.ts` that runs the service on the real servers or embedded,
 * and a scenario run by a unit test (in memory) and an integration test (the real servers). Then
 * `pnpm install` links it. Refuses a bad name, a port out of range, a workspace without
 * `services/*`, and a folder or package that exists already, naming what was wrong.
 */
export async function newService(options: NewServiceOptions): Promise<NewServiceResult> {
  const { name } = options;
  if (!NAME.test(name) || name.length > 40) {
    throw new CliError(
      `<name> must be kebab-case: lower-case letters and digits in words joined by '-', starting with a letter, at most 40 characters (got '${name}')`,
      exitCodes.usage,
    );
  }
  const port = options.port ?? 3100;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(
      `--port must be a whole number from 1 to 65535 (got ${port})`,
      exitCodes.usage,
    );
  }
  const workspace = findWorkspace(options.from);
  const yaml = await readFile(path.join(workspace, 'pnpm-workspace.yaml'), 'utf8');
  // The package globs: the list items (`- services/*`), quoted or not.
  const globs = [...yaml.matchAll(/^\s*-\s*['"]?([^'"\s#]+)['"]?\s*$/gm)].map((m) => m[1]!);
  if (!globs.includes('services/*')) {
    throw new CliError(
      `${path.join(workspace, 'pnpm-workspace.yaml')} does not list 'services/*' among its packages`,
      exitCodes.usage,
    );
  }
  const dir = path.join(workspace, 'services', name);
  const taken = await packageNames(workspace, globs);
  if (taken.has(name)) {
    throw new CliError(
      `the workspace has a package named '${name}' already (${taken.get(name)}): choose another name`,
      exitCodes.usage,
    );
  }
  if (existsSync(dir)) {
    throw new CliError(
      `${path.relative(workspace, dir)} exists already: choose another name`,
      exitCodes.usage,
    );
  }
  const spec: ServiceSpec = {
    name,
    pascal: pascalCase(name),
    port,
    versions: {
      tsx: await versionIn(workspace, '.', 'tsx'),
      vitest: await versionIn(workspace, '.', 'vitest'),
      zod: await versionIn(workspace, 'packages/runtime', 'zod'),
    },
  };
  const files = serviceFiles(spec);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text, { flag: 'wx' });
  }
  await syncTypesFile(path.join(dir, 'schemas'), path.join(dir, 'src/generated/types.ts'));
  const written = [...Object.keys(files), 'src/generated/types.ts'].map((f) =>
    path.join('services', name, f),
  );
  for (const file of written) options.log?.(`wrote ${file}`);
  if (options.install !== false) {
    options.log?.('pnpm install (links the new package, adds it to the lockfile)');
    // Not frozen, even where CI=true makes it pnpm's default: the new package changes the lockfile.
    await run('pnpm', ['install', '--prefer-offline', '--no-frozen-lockfile'], workspace);
  }
  return { workspace, dir, files: written };
}
