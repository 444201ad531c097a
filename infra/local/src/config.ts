import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InfraError } from './errors.js';

/** Where the servers keep their files, which versions run and on which ports. */
export interface InfraConfig {
  /** Logs, pid files, configuration and data of the running servers. @default `<repo>/.sagaflow/infra` */
  readonly stateDir: string;
  /** Downloaded and built servers, shared by every checkout. @default `~/.cache/sagaflow` */
  readonly cacheDir: string;
  /** Deadline for one server to answer its health check after start. @default 180000 */
  readonly startTimeoutMs: number;
  readonly kafka: {
    /** `org.apache.kafka:kafka_2.13` version. @default '3.9.1' */
    readonly version: string;
    /** @default 9092 */
    readonly port: number;
    /** KRaft controller listener. @default 9093 */
    readonly controllerPort: number;
    /** @default 1024 */
    readonly heapMb: number;
    /**
     * Brokers of the local KRaft cluster (each also a controller): broker `n` (from 1) listens on
     * `port + 2(n-1)`, its controller on `controllerPort + 2(n-1)`. @default 1
     */
    readonly brokers: number;
  };
  readonly registry: {
    /** `io.apicurio:apicurio-registry-app` version. @default '3.0.9' */
    readonly version: string;
    /** @default 8081 */
    readonly port: number;
    /** @default 512 */
    readonly heapMb: number;
  };
  readonly database: {
    /** FerretDB version (v1 line: v2 needs a PostgreSQL extension). @default '1.24.2' */
    readonly version: string;
    /** @default 27017 */
    readonly port: number;
    /** @default 'sqlite' */
    readonly backend: 'sqlite' | 'postgresql';
    /** Used when the backend is `postgresql`. @default 'postgres://127.0.0.1:5432/ferretdb' */
    readonly postgresqlUrl: string;
  };
}

/** The environment variable behind each setting, named in error messages. */
export const infraEnvVars = {
  stateDir: 'SAGAFLOW_INFRA_STATE_DIR',
  cacheDir: 'SAGAFLOW_INFRA_CACHE_DIR',
  startTimeoutMs: 'SAGAFLOW_INFRA_START_TIMEOUT_MS',
  kafkaVersion: 'SAGAFLOW_KAFKA_VERSION',
  kafkaPort: 'SAGAFLOW_KAFKA_PORT',
  kafkaControllerPort: 'SAGAFLOW_KAFKA_CONTROLLER_PORT',
  kafkaHeapMb: 'SAGAFLOW_KAFKA_HEAP_MB',
  kafkaBrokers: 'SAGAFLOW_KAFKA_BROKERS',
  registryVersion: 'SAGAFLOW_REGISTRY_VERSION',
  registryPort: 'SAGAFLOW_REGISTRY_PORT',
  registryHeapMb: 'SAGAFLOW_REGISTRY_HEAP_MB',
  databaseVersion: 'SAGAFLOW_FERRETDB_VERSION',
  databasePort: 'SAGAFLOW_MONGODB_PORT',
  databaseBackend: 'SAGAFLOW_FERRETDB_BACKEND',
  databasePostgresqlUrl: 'SAGAFLOW_FERRETDB_POSTGRESQL_URL',
} as const;

/** Root of the sagaflow checkout this module belongs to. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be an integer')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');
const version = z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version like 3.9.1');
const positiveInt = z.coerce
  .number({ error: 'must be a number' })
  .int('must be an integer')
  .positive('must be positive');

const schema = z.object({
  stateDir: z.string().min(1, 'must not be empty'),
  cacheDir: z.string().min(1, 'must not be empty'),
  startTimeoutMs: positiveInt,
  kafkaVersion: version.refine(
    (v) => Number(v.split('.')[0]) >= 3,
    'must be 3.x or newer (KRaft without ZooKeeper)',
  ),
  kafkaPort: port,
  kafkaControllerPort: port,
  kafkaHeapMb: positiveInt,
  kafkaBrokers: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(5, 'must be at most 5'),
  registryVersion: version.refine(
    (v) => v.split('.')[0] === '3',
    'must be 3.x (the layout and settings used here are those of Apicurio Registry 3)',
  ),
  registryPort: port,
  registryHeapMb: positiveInt,
  databaseVersion: version.refine(
    (v) => v.split('.')[0] === '1',
    'must be 1.x (FerretDB 2 needs the DocumentDB PostgreSQL extension)',
  ),
  databasePort: port,
  databaseBackend: z.enum(['sqlite', 'postgresql'], { error: "must be 'sqlite' or 'postgresql'" }),
  databasePostgresqlUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
});

/**
 * Reads the infrastructure settings from the environment, with defaults. A bad value throws an
 * {@link InfraError} naming the variable.
 */
export function loadInfraConfig(env: NodeJS.ProcessEnv = process.env): InfraConfig {
  const cacheHome = env['XDG_CACHE_HOME'] ?? path.join(env['HOME'] ?? homedir(), '.cache');
  const raw: Record<keyof typeof infraEnvVars, string> = {
    stateDir: path.join(repoRoot, '.sagaflow', 'infra'),
    cacheDir: path.join(cacheHome, 'sagaflow'),
    startTimeoutMs: '180000',
    kafkaVersion: '3.9.1',
    kafkaPort: '9092',
    kafkaControllerPort: '9093',
    kafkaHeapMb: '1024',
    kafkaBrokers: '1',
    registryVersion: '3.0.9',
    registryPort: '8081',
    registryHeapMb: '512',
    databaseVersion: '1.24.2',
    databasePort: '27017',
    databaseBackend: 'sqlite',
    databasePostgresqlUrl: 'postgres://127.0.0.1:5432/ferretdb',
  };
  for (const key of Object.keys(infraEnvVars) as (keyof typeof infraEnvVars)[]) {
    const value = env[infraEnvVars[key]];
    if (value !== undefined && value !== '') raw[key] = value.trim();
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] as keyof typeof infraEnvVars | undefined;
    const name = key === undefined ? 'configuration' : infraEnvVars[key];
    const value = key === undefined ? '' : ` (got '${raw[key]}')`;
    throw new InfraError('config', undefined, `${name} ${issue?.message ?? 'is invalid'}${value}`);
  }
  const c = parsed.data;
  const ports: [string, number][] = [
    ...Array.from({ length: c.kafkaBrokers }, (_, i): [string, number][] => [
      [
        i === 0 ? infraEnvVars.kafkaPort : `${infraEnvVars.kafkaPort} + ${2 * i} (broker ${i + 1})`,
        c.kafkaPort + 2 * i,
      ],
      [
        i === 0
          ? infraEnvVars.kafkaControllerPort
          : `${infraEnvVars.kafkaControllerPort} + ${2 * i} (controller ${i + 1})`,
        c.kafkaControllerPort + 2 * i,
      ],
    ]).flat(),
    [infraEnvVars.registryPort, c.registryPort],
    [infraEnvVars.databasePort, c.databasePort],
  ];
  for (const [i, [name, value]] of ports.entries()) {
    if (value > 65535) {
      throw new InfraError('config', undefined, `${name} must be at most 65535 (got ${value})`);
    }
    const clash = ports.slice(0, i).find(([, other]) => other === value);
    if (clash) {
      throw new InfraError(
        'config',
        undefined,
        `${name} must differ from ${clash[0]} (both are ${value})`,
      );
    }
  }
  return {
    stateDir: path.resolve(c.stateDir),
    cacheDir: path.resolve(c.cacheDir),
    startTimeoutMs: c.startTimeoutMs,
    kafka: {
      version: c.kafkaVersion,
      port: c.kafkaPort,
      controllerPort: c.kafkaControllerPort,
      heapMb: c.kafkaHeapMb,
      brokers: c.kafkaBrokers,
    },
    registry: { version: c.registryVersion, port: c.registryPort, heapMb: c.registryHeapMb },
    database: {
      version: c.databaseVersion,
      port: c.databasePort,
      backend: c.databaseBackend,
      postgresqlUrl: c.databasePostgresqlUrl,
    },
  };
}
