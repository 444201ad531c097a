import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { infraEnvVars, type InfraConfig } from './config.js';
import { pathExists } from './install-once.js';
import { InfraError, type ServerName } from './errors.js';
import type { LocalServer } from './local-server.js';
import { missingTools } from './prerequisites.js';
import {
  delay,
  isAlive,
  isOwnProcess,
  isPortFree,
  startDetached,
  stopProcessGroup,
  tailOf,
} from './processes.js';
import { databaseServer } from './servers/database.js';
import { kafkaServer } from './servers/kafka.js';
import { registryServer } from './servers/registry.js';

/** The configured servers in start order: Kafka's brokers, the registry, the database. */
export const localServersOf = (config: InfraConfig): readonly LocalServer[] => [
  ...Array.from({ length: config.kafka.brokers }, (_, i) => kafkaServer(i)),
  registryServer,
  databaseServer,
];

/** Progress messages; `up` writes them to stderr so that stdout stays parseable. */
export type InfraLog = (message: string) => void;

interface ServerRecord {
  readonly pid: number;
  readonly version: string;
  readonly ports: readonly number[];
  readonly startedAt: string;
  readonly logFile: string;
}

/** What `status` reports for one server. */
export interface ServerStatus {
  readonly name: ServerName;
  readonly title: string;
  readonly state: 'up' | 'down' | 'unhealthy';
  readonly version: string;
  readonly port: number;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** Why it is not up, when it is not. */
  readonly detail?: string;
}

/** What `up` did. */
export interface InfraUpResult {
  /** Servers this call started (the others were already running). */
  readonly started: readonly ServerName[];
  /** The `NAME=value` lines of `infra:env`. */
  readonly env: Readonly<Record<'KAFKA_BROKERS' | 'SCHEMA_REGISTRY_URL' | 'MONGODB_URL', string>>;
}

const serverDir = (config: InfraConfig, server: LocalServer) =>
  path.join(config.stateDir, server.name);
const logFileOf = (config: InfraConfig, server: LocalServer) =>
  path.join(serverDir(config, server), `${server.name}.log`);
const recordFileOf = (config: InfraConfig, server: LocalServer) =>
  path.join(serverDir(config, server), 'server.json');

async function readRecord(
  config: InfraConfig,
  server: LocalServer,
): Promise<ServerRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordFileOf(config, server), 'utf8')) as ServerRecord;
  } catch {
    return undefined;
  }
}

/** The pid of the server if a process we started for it still runs. */
async function runningPid(config: InfraConfig, server: LocalServer): Promise<number | undefined> {
  const record = await readRecord(config, server);
  if (record === undefined) return undefined;
  return (await isOwnProcess(record.pid, serverDir(config, server))) ? record.pid : undefined;
}

async function answers(config: InfraConfig, server: LocalServer): Promise<string | undefined> {
  try {
    await server.check(config);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Serialises `up` and `down` across processes (two test projects, two terminals). */
async function withLock<T>(config: InfraConfig, action: () => Promise<T>): Promise<T> {
  const lockDir = path.join(config.stateDir, '.lock');
  await mkdir(config.stateDir, { recursive: true });
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
      } else {
        await delay(200);
      }
    }
  }
  try {
    return await action();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

function requireTools(server: LocalServer, step: 'prerequisites', installed: boolean): void {
  const missing = missingTools(installed ? server.runTools : server.installTools);
  if (missing.length > 0) throw new InfraError(step, server.name, missing.join('; '));
}

async function install(config: InfraConfig, server: LocalServer, log: InfraLog): Promise<void> {
  const installed = await server.isInstalled(config);
  requireTools(server, 'prerequisites', installed);
  if (installed) return;
  const logFile = path.join(
    config.cacheDir,
    `install-${server.name}-${server.version(config)}.log`,
  );
  await mkdir(config.cacheDir, { recursive: true });
  log(
    `${server.name}: installing ${server.title} ${server.version(config)} (first use; log: ${logFile})`,
  );
  const started = Date.now();
  try {
    await server.install(config, logFile);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InfraError('install', server.name, `${detail}\n${await tailOf(logFile)}`, {
      logFile,
      cause: error,
    });
  }
  log(`${server.name}: installed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

async function waitHealthy(
  config: InfraConfig,
  server: LocalServer,
  pid: number,
  exited: () => string | undefined,
): Promise<void> {
  const logFile = logFileOf(config, server);
  const deadline = Date.now() + config.startTimeoutMs;
  let last: string | undefined = 'not checked yet';
  while (Date.now() < deadline) {
    const exit = exited();
    if (exit !== undefined || !isAlive(pid)) {
      throw new InfraError(
        'start',
        server.name,
        `${server.title} exited during start (${exit ?? 'gone'}):\n${await tailOf(logFile)}`,
        { logFile },
      );
    }
    last = await answers(config, server);
    if (last === undefined) return;
    await delay(500);
  }
  throw new InfraError(
    'health',
    server.name,
    `${server.title} did not answer within ${config.startTimeoutMs} ms (last: ${last})`,
    { logFile },
  );
}

/**
 * Refuses a server to start whose port another process holds (one this call did not start),
 * naming the port and its setting; a server already running is left to its health check.
 */
async function checkPortsFree(config: InfraConfig, server: LocalServer): Promise<void> {
  if ((await runningPid(config, server)) !== undefined) return;
  for (const { envVar, port } of server.ports(config)) {
    if (!(await isPortFree(port))) {
      throw new InfraError(
        'start',
        server.name,
        `port ${port} is already taken by a process that infra:up did not start; stop it, or choose another port with ${envVar}`,
      );
    }
  }
}

async function startOne(config: InfraConfig, server: LocalServer, log: InfraLog): Promise<boolean> {
  const dir = serverDir(config, server);
  const logFile = logFileOf(config, server);
  const pid = await runningPid(config, server);
  if (pid !== undefined) {
    await waitHealthy(config, server, pid, () => undefined);
    log(`${server.name}: already running (pid ${pid})`);
    return false;
  }
  await mkdir(dir, { recursive: true });
  let spec;
  try {
    spec = await server.prepare(config, dir, logFile);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InfraError('start', server.name, `preparing storage failed: ${detail}`, {
      logFile,
      cause: error,
    });
  }
  await writeFile(logFile, `--- ${new Date().toISOString()} starting ${server.title}\n`, {
    flag: 'a',
  });
  const child = startDetached(spec, logFile);
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = signal ?? `exit code ${code}`));
  child.once('error', (error) => (exit = error.message));
  if (child.pid === undefined) {
    await delay(50);
    throw new InfraError('start', server.name, `could not start ${spec.command}: ${exit}`, {
      logFile,
    });
  }
  const record: ServerRecord = {
    pid: child.pid,
    version: server.version(config),
    ports: server.ports(config).map((p) => p.port),
    startedAt: new Date().toISOString(),
    logFile,
  };
  await writeFile(recordFileOf(config, server), `${JSON.stringify(record, null, 2)}\n`);
  const started = Date.now();
  try {
    await waitHealthy(config, server, child.pid, () => exit);
  } catch (error) {
    // A server that never answered is not left running (a test's cluster of brokers that did
    // not come up in time would otherwise weigh on every test after it).
    await stopOne(config, server, log, true).catch(() => {});
    throw error;
  }
  log(
    `${server.name}: ${server.title} ${server.version(config)} up on port ${server.ports(config)[0]?.port} (pid ${child.pid}, ${((Date.now() - started) / 1000).toFixed(1)}s)`,
  );
  return true;
}

/** The three environment lines for the configured servers. */
export function infraEnvLines(config: InfraConfig): InfraUpResult['env'] {
  const entries = localServersOf(config).flatMap((server) => {
    const line = server.envLine(config);
    if (line === undefined) return [];
    const at = line.indexOf('=');
    return [[line.slice(0, at), line.slice(at + 1)]];
  });
  return Object.fromEntries(entries) as InfraUpResult['env'];
}

/**
 * Installs (on first use), starts and health-checks the three servers. Running it again is
 * harmless: servers already running are only checked.
 * @param options.servers Only these servers (a test that restarts the database needs only a
 *   database of its own). @default all three
 */
export async function infraUp(
  config: InfraConfig,
  log: InfraLog = () => {},
  options: { readonly servers?: readonly ServerName[] } = {},
): Promise<InfraUpResult> {
  const chosen = localServersOf(config).filter(
    (server) => options.servers === undefined || options.servers.includes(server.name),
  );
  return withLock(config, async () => {
    if (chosen.some((server) => server.name.startsWith('kafka'))) await checkBrokerCount(config);
    const installs = await Promise.allSettled(chosen.map((server) => install(config, server, log)));
    const installFailure = installs.find((r) => r.status === 'rejected');
    if (installFailure !== undefined) throw installFailure.reason;
    // Every port is checked before any server starts: a taken one fails at once, with nothing
    // to stop (a server that started beside it would be waited for, then stopped again).
    for (const server of chosen) await checkPortsFree(config, server);
    const started: ServerName[] = [];
    const results = await Promise.allSettled(
      chosen.map(async (server) => {
        if (await startOne(config, server, log)) started.push(server.name);
      }),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) {
      // Leave nothing half-started behind: stop what this call started.
      await Promise.all(
        chosen
          .filter((server) => started.includes(server.name))
          .map((server) => stopOne(config, server, log)),
      );
      throw failures[0];
    }
    return { started, env: infraEnvLines(config) };
  });
}

const brokersFile = (config: InfraConfig) => path.join(config.stateDir, 'kafka-brokers');

/**
 * The number of brokers the Kafka data of a state folder was made for, if any: `up` records it
 * (a broker's storage is formatted for its cluster, so a folder holds one size of cluster).
 */
export async function recordedBrokers(stateDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(stateDir, 'kafka-brokers'), 'utf8').catch(() => undefined);
  const count = Number(text);
  return text === undefined || !Number.isInteger(count) || count < 1 ? undefined : count;
}

async function checkBrokerCount(config: InfraConfig): Promise<void> {
  const recorded = await recordedBrokers(config.stateDir);
  if (
    recorded !== undefined &&
    recorded !== config.kafka.brokers &&
    (await pathExists(path.join(serverDir(config, kafkaServer(0)), 'data')))
  ) {
    throw new InfraError(
      'config',
      'kafka',
      `the Kafka data under ${config.stateDir} is a cluster of ${recorded} broker(s), not ${config.kafka.brokers}: stop and wipe it first ('pnpm infra:down --wipe'), or choose another ${infraEnvVars.stateDir}`,
    );
  }
  await writeFile(brokersFile(config), `${config.kafka.brokers}\n`);
}

async function stopOne(
  config: InfraConfig,
  server: LocalServer,
  log: InfraLog,
  kill = false,
): Promise<void> {
  const record = await readRecord(config, server);
  if (record === undefined) return;
  if (await isOwnProcess(record.pid, serverDir(config, server))) {
    await stopProcessGroup(record.pid, kill ? 0 : 30_000);
    log(`${server.name}: ${kill ? 'killed' : 'stopped'} (pid ${record.pid})`);
  } else {
    log(`${server.name}: not running`);
  }
  await rm(recordFileOf(config, server), { force: true });
}

/**
 * Stops the processes that {@link infraUp} started (by pid), optionally wiping their data.
 * @param options.servers Only these servers. @default all
 * @param options.kill SIGKILL at once, as a crash would stop them (fault tests). @default false:
 *   SIGTERM, SIGKILL after 30 s
 */
export async function infraDown(
  config: InfraConfig,
  options: {
    wipe?: boolean;
    servers?: readonly ServerName[];
    log?: InfraLog;
    kill?: boolean;
  } = {},
): Promise<void> {
  const log = options.log ?? (() => {});
  const chosen = localServersOf(config).filter(
    (server) => options.servers === undefined || options.servers.includes(server.name),
  );
  await withLock(config, async () => {
    await Promise.all(chosen.map((server) => stopOne(config, server, log, options.kill)));
    if (options.wipe === true) {
      for (const server of chosen)
        await rm(serverDir(config, server), { recursive: true, force: true });
      if (chosen.some((server) => server.name === 'kafka'))
        await rm(brokersFile(config), { force: true });
      log(`wiped ${chosen.map((s) => s.name).join(', ')} data under ${config.stateDir}`);
    }
  });
  if (options.wipe === true) await rmdir(config.stateDir).catch(() => {});
}

/** Per server: up/down, the version it reports, its port and pid. */
export async function infraStatus(config: InfraConfig): Promise<ServerStatus[]> {
  return Promise.all(
    localServersOf(config).map(async (server): Promise<ServerStatus> => {
      const pid = await runningPid(config, server);
      const base = {
        name: server.name,
        title: server.title,
        port: server.ports(config)[0]?.port ?? 0,
        pid,
        logFile: logFileOf(config, server),
      };
      if (pid === undefined) {
        return { ...base, state: 'down', version: server.version(config), detail: 'not running' };
      }
      const problem = await answers(config, server);
      if (problem !== undefined) {
        return { ...base, state: 'unhealthy', version: server.version(config), detail: problem };
      }
      const version = await server.runningVersion(config).catch(() => server.version(config));
      return { ...base, state: 'up', version };
    }),
  );
}

/**
 * The three environment lines, after checking that each server answers; throws naming the
 * servers that do not.
 */
export async function infraEnv(config: InfraConfig): Promise<InfraUpResult['env']> {
  const servers = localServersOf(config);
  const problems = await Promise.all(servers.map((server) => answers(config, server)));
  const down = servers.flatMap((server, i) =>
    problems[i] === undefined ? [] : [`${server.name} (${problems[i]})`],
  );
  if (down.length > 0) {
    throw new InfraError(
      'env',
      undefined,
      `not answering: ${down.join(', ')}; start the servers with 'pnpm infra:up'`,
    );
  }
  return infraEnvLines(config);
}

/** True when everything needed to install and run the servers locally is on this machine. */
export async function localInfraPossible(config: InfraConfig): Promise<string[]> {
  const missing: string[] = [];
  for (const server of localServersOf(config)) {
    const installed = await server.isInstalled(config);
    missing.push(...missingTools(installed ? server.runTools : server.installTools));
  }
  return [...new Set(missing)];
}
