import { chmod, cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { infraEnvVars, type InfraConfig } from '../config.js';
import { installOnce, isInstalledIn } from '../install-once.js';
import type { LocalServer } from '../local-server.js';
import { runToCompletion } from '../processes.js';

const MODULE = 'github.com/FerretDB/FerretDB';

/**
 * Changes made to FerretDB's source before it is built, each a line replaced (the build stops if
 * the line is not there). Their id names the build's folder, so a changed list builds afresh.
 */
const SOURCE_PATCHES = {
  id: 'sagaflow.2',
  patches: [
    {
      // The SQLite backend looks documents up by `_id` with `_ferretdb_sjson->'$._id' = ?`, but
      // builds the unique `_id` index on `_ferretdb_sjson->"_id"`. SQLite uses an index on an
      // expression only for that same expression, so find, update and delete by `_id` scanned
      // the whole table (a cost growing with the collection). With the index's expression they
      // search the index (EXPLAIN QUERY PLAN: SEARCH … USING INDEX).
      file: 'internal/backends/sqlite/metadata/metadata.go',
      line: `IDColumn = DefaultColumn + "->'$._id'"`,
      replacement: `IDColumn = DefaultColumn + "->'_id'"`,
    },
  ],
} as const;

/**
 * Go modules built newer than FerretDB's go.mod names them. FerretDB 1.24.2 builds with
 * modernc.org/sqlite v1.32.0, which bundles SQLite 3.46.0: versions 3.7.0 to 3.51.2 have the
 * WAL-reset bug (https://www.sqlite.org/wal.html#walresetbug), a race between a checkpoint and
 * another connection's commit that can lose a committed transaction. FerretDB's SQLite backend
 * writes and checkpoints from several connections at once; v1.62.0 bundles SQLite 3.54.1. A
 * precaution: no loss in the tests was traced to it.
 */
const MODULE_UPGRADES = ['modernc.org/sqlite@v1.62.0'] as const;

function installDir(config: InfraConfig): string {
  return path.join(config.cacheDir, `ferretdb-${config.database.version}-${SOURCE_PATCHES.id}`);
}

/** Applies {@link SOURCE_PATCHES} to a copy of the source. */
async function patchSource(src: string): Promise<void> {
  for (const patch of SOURCE_PATCHES.patches) {
    const file = path.join(src, patch.file);
    const text = await readFile(file, 'utf8');
    if (!text.includes(patch.line)) {
      throw new Error(`cannot patch FerretDB: '${patch.line}' is not in ${patch.file}`);
    }
    await writeFile(file, text.replace(patch.line, patch.replacement));
  }
}

function binary(config: InfraConfig): string {
  return path.join(installDir(config), 'bin', 'ferretdb');
}

function url(config: InfraConfig): string {
  return `mongodb://127.0.0.1:${config.database.port}`;
}

async function withClient<T>(config: InfraConfig, use: (client: MongoClient) => Promise<T>) {
  const client = new MongoClient(url(config), {
    serverSelectionTimeoutMS: 2000,
    connectTimeoutMS: 2000,
    directConnection: true,
  });
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.close();
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir)) {
    const file = path.join(dir, entry);
    if ((await stat(file)).isDirectory()) await makeWritable(file);
    else await chmod(file, 0o644);
  }
}

/** FerretDB v1 built from its Go module, on SQLite (default) or PostgreSQL. */
export const databaseServer: LocalServer = {
  name: 'database',
  title: 'FerretDB',
  installTools: [{ command: 'go', why: 'FerretDB is built from its Go module' }],
  runTools: [],
  ports: (config) => [{ envVar: infraEnvVars.databasePort, port: config.database.port }],
  version: (config) => config.database.version,
  isInstalled: (config) => isInstalledIn(installDir(config)),
  install: (config, logFile) =>
    installOnce(installDir(config), async (dir) => {
      const env = { GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
      const info = JSON.parse(
        await runToCompletion(
          {
            command: 'go',
            args: ['mod', 'download', '-json', `${MODULE}@v${config.database.version}`],
            env,
          },
          logFile,
        ),
      ) as { Dir?: string; Error?: string };
      if (info.Dir === undefined) throw new Error(info.Error ?? 'go mod download gave no folder');
      // The module zip lacks build/version/version.txt (written by the project's release tooling),
      // and the binary refuses to start without it: build from a copy that has it.
      const src = path.join(dir, 'src');
      await cp(info.Dir, src, { recursive: true });
      await makeWritable(src);
      await writeFile(
        path.join(src, 'build', 'version', 'version.txt'),
        `v${config.database.version}\n`,
      );
      await patchSource(src);
      for (const module of MODULE_UPGRADES) {
        await runToCompletion({ command: 'go', args: ['get', module], cwd: src, env }, logFile);
      }
      const bin = path.join(dir, 'bin', 'ferretdb');
      await runToCompletion(
        { command: 'go', args: ['build', '-trimpath', '-o', bin, './cmd/ferretdb'], cwd: src, env },
        logFile,
      );
      await runToCompletion({ command: bin, args: ['--version'] }, logFile);
    }),
  async prepare(config, dir) {
    const dataDir = path.join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    const backend =
      config.database.backend === 'sqlite'
        ? ['--handler=sqlite', `--sqlite-url=file:${dataDir}/`]
        : ['--handler=postgresql', `--postgresql-url=${config.database.postgresqlUrl}`];
    return {
      command: binary(config),
      args: [
        ...backend,
        `--listen-addr=127.0.0.1:${config.database.port}`,
        `--state-dir=${dir}`,
        '--debug-addr=-',
        '--telemetry=disable',
        '--log-level=warn',
      ],
    };
  },
  async check(config) {
    await withClient(config, async (client) => {
      const reply = await client.db('admin').command({ ping: 1 });
      if (reply['ok'] !== 1) throw new Error(`ping answered ${JSON.stringify(reply)}`);
    });
  },
  runningVersion: (config) =>
    withClient(config, async (client) => {
      const info = await client.db('admin').command({ buildInfo: 1 });
      const version: unknown = info['ferretdbVersion'];
      return typeof version === 'string' ? version.replace(/^v/, '') : config.database.version;
    }),
  envLine: (config) => `MONGODB_URL=${url(config)}`,
};
