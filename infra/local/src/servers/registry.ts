import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { infraEnvVars, type InfraConfig } from '../config.js';
import { installOnce, isInstalledIn, pathExists } from '../install-once.js';
import type { LocalServer } from '../local-server.js';
import { runToCompletion } from '../processes.js';

function installDir(config: InfraConfig): string {
  return path.join(config.cacheDir, `apicurio-registry-${config.registry.version}`);
}

function baseUrl(config: InfraConfig): string {
  return `http://127.0.0.1:${config.registry.port}`;
}

async function getJson(url: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    // fetch hides the reason (refused, timed out) in its cause.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    throw new Error(`GET ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return response.json();
}

/** The archive has used both the legacy (`*-runner.jar`) and the fast-jar layout. */
async function runnerJar(config: InfraConfig): Promise<string> {
  const dir = installDir(config);
  const fastJar = path.join(dir, 'quarkus-app', 'quarkus-run.jar');
  if (await pathExists(fastJar)) return fastJar;
  const runner = (await readdir(dir)).find((file) => file.endsWith('-runner.jar'));
  if (runner === undefined) throw new Error(`no runner jar in ${dir}`);
  return path.join(dir, runner);
}

/** Apicurio Registry from its Maven Central archive, serving the Confluent-compatible API. */
export const registryServer: LocalServer = {
  name: 'registry',
  title: 'Apicurio Registry',
  installTools: [
    { command: 'java', why: 'Apicurio Registry runs on a JDK 17+' },
    { command: 'mvn', why: 'the Apicurio Registry archive comes from Maven Central' },
  ],
  runTools: [{ command: 'java', why: 'Apicurio Registry runs on a JDK 17+' }],
  ports: (config) => [{ envVar: infraEnvVars.registryPort, port: config.registry.port }],
  version: (config) => config.registry.version,
  isInstalled: (config) => isInstalledIn(installDir(config)),
  install: (config, logFile) =>
    installOnce(installDir(config), async (dir) => {
      const archive = `apicurio-registry-app-${config.registry.version}-all.tar.gz`;
      await runToCompletion(
        {
          command: 'mvn',
          args: [
            '-B',
            '-q',
            'dependency:copy',
            `-Dartifact=io.apicurio:apicurio-registry-app:${config.registry.version}:tar.gz:all`,
            `-DoutputDirectory=${dir}`,
          ],
          cwd: dir,
        },
        logFile,
      );
      await runToCompletion({ command: 'tar', args: ['-xzf', archive], cwd: dir }, logFile);
      await rm(path.join(dir, archive));
    }),
  async prepare(config, dir) {
    const dataDir = path.join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    return {
      command: 'java',
      args: [
        `-Xmx${config.registry.heapMb}m`,
        '-Djava.awt.headless=true',
        // Marks the process as ours, so that a pid file is never trusted alone.
        `-Dsagaflow.infra.dir=${dir}`,
        '-jar',
        await runnerJar(config),
      ],
      env: {
        QUARKUS_HTTP_HOST: '127.0.0.1',
        QUARKUS_HTTP_PORT: String(config.registry.port),
        // A file-backed H2 store keeps registered schemas across restarts, like the other servers.
        APICURIO_STORAGE_KIND: 'sql',
        APICURIO_STORAGE_SQL_KIND: 'h2',
        APICURIO_DATASOURCE_URL: `jdbc:h2:file:${path.join(dataDir, 'registry')}`,
        APICURIO_DATASOURCE_USERNAME: 'sa',
        APICURIO_DATASOURCE_PASSWORD: 'sa',
        QUARKUS_LOG_CONSOLE_JSON: 'false',
        QUARKUS_HTTP_ACCESS_LOG_ENABLED: 'false',
      },
    };
  },
  async check(config) {
    const subjects = await getJson(`${baseUrl(config)}/apis/ccompat/v7/subjects`);
    if (!Array.isArray(subjects)) throw new Error('GET /subjects did not answer a list');
  },
  async runningVersion(config) {
    const info = (await getJson(`${baseUrl(config)}/apis/registry/v3/system/info`)) as {
      version?: unknown;
    };
    return typeof info.version === 'string' ? info.version : config.registry.version;
  },
  envLine: (config) => `SCHEMA_REGISTRY_URL=${baseUrl(config)}/apis/ccompat/v7`,
};
