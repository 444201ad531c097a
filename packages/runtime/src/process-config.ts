import { MAX_SHARDS, SagaflowError } from '@sagaflow/core';
import { z } from 'zod';

/** Where Kafka, the schema registry and MongoDB answer. */
export interface ServerAddresses {
  readonly kafkaBrokers: readonly string[];
  /**
   * Replicas of the topics the services create (`KAFKA_REPLICATION_FACTOR`).
   * @default min(3, the cluster's brokers)
   */
  readonly kafkaReplicationFactor?: number;
  /**
   * `min.insync.replicas` of the topics the services create (`KAFKA_MIN_INSYNC_REPLICAS`).
   * @default 2 with three replicas or more, else 1
   */
  readonly kafkaMinInSyncReplicas?: number;
  readonly schemaRegistryUrl: string;
  readonly mongodbUrl: string;
}

/** What every service process reads from its environment. */
export interface ProcessConfig {
  readonly port: number;
  /** Address to listen on. @default '127.0.0.1' */
  readonly host: string;
  /** Real servers; absent: the in-memory adapters (one process only). */
  readonly servers?: ServerAddresses;
  /** Prefix of the service's names (`SAGAFLOW_NAMESPACE`). @default '' */
  readonly namespace: string;
  /** The bearer token of the admin and workflow routes (`ADMIN_TOKEN`). */
  readonly adminToken: string | undefined;
  /**
   * Tokens of named operators of the admin API (`ADMIN_OPERATOR_TOKENS`, `name=token,…`): the
   * audit log records the name a token proves. @default none
   */
  readonly operatorTokens?: Readonly<Record<string, string>>;
  /** A token of the admin API that may read and not act (`ADMIN_READ_TOKEN`). @default none */
  readonly readToken?: string;
  /** Partitions of the topics a service creates. @default 3 */
  readonly partitions: number;
  /**
   * Outbox shards (`SAGAFLOW_RELAY_SHARDS`) that the processes of a service share, each relayed
   * by one of them: at least the number of processes that should publish side by side, the same
   * in all of them. @default 1
   */
  readonly relayShards: number;
  /** pino-style level names: what the service logs. @default 'info' */
  readonly logLevel: 'silent' | 'error' | 'warn' | 'info' | 'debug';
}

/** A bad setting: the framework's INVALID_ARGUMENT error, naming the variable. */
export const badSetting = (variable: string, message: string) =>
  new SagaflowError('INVALID_ARGUMENT', message, { context: { field: variable } });

/** Parses one variable with a zod schema; a bad value throws {@link badSetting}. */
export function parseSetting<T>(variable: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw badSetting(variable, result.error.issues[0]?.message ?? `${variable} is invalid`);
  }
  return result.data;
}

const port = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a port number` })
    .int(`${name} must be an integer`)
    .min(0, `${name} must be between 0 and 65535`)
    .max(65535, `${name} must be between 0 and 65535`);

const serverVars = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URL'] as const;

/** The servers named by `KAFKA_BROKERS`, `SCHEMA_REGISTRY_URL` and `MONGODB_URL` (all or none). */
export function serversFromEnv(env: NodeJS.ProcessEnv): ServerAddresses | undefined {
  const given = serverVars.filter((v) => (env[v] ?? '') !== '');
  if (given.length === 0) return undefined;
  if (given.length < 3) {
    const missing = serverVars.filter((v) => !given.includes(v));
    throw badSetting(
      missing[0]!,
      `${missing.join(', ')} must be set too: give all three of ${serverVars.join(', ')}, or none for the in-memory adapters`,
    );
  }
  return {
    kafkaBrokers: parseSetting(
      'KAFKA_BROKERS',
      z
        .string()
        .regex(
          /^[^\s,]+:\d+(,[^\s,]+:\d+)*$/,
          `KAFKA_BROKERS must be host:port[,host:port…] (got '${env['KAFKA_BROKERS']}')`,
        ),
      env['KAFKA_BROKERS'],
    ).split(','),
    schemaRegistryUrl: parseSetting(
      'SCHEMA_REGISTRY_URL',
      z.url({ error: `SCHEMA_REGISTRY_URL must be a URL (got '${env['SCHEMA_REGISTRY_URL']}')` }),
      env['SCHEMA_REGISTRY_URL'],
    ),
    mongodbUrl: parseSetting(
      'MONGODB_URL',
      z.string().regex(/^mongodb(\+srv)?:\/\//, `MONGODB_URL must be a mongodb:// URL`),
      env['MONGODB_URL'],
    ),
    ...replicaSetting('kafkaReplicationFactor', 'KAFKA_REPLICATION_FACTOR', env),
    ...replicaSetting('kafkaMinInSyncReplicas', 'KAFKA_MIN_INSYNC_REPLICAS', env),
  };
}

/** An optional count of replicas, 1 to 32767. */
function replicaSetting<K extends 'kafkaReplicationFactor' | 'kafkaMinInSyncReplicas'>(
  key: K,
  variable: string,
  env: NodeJS.ProcessEnv,
): Partial<Record<K, number>> {
  const value = env[variable];
  if (value === undefined || value.trim() === '') return {};
  const count = parseSetting(
    variable,
    z.coerce
      .number({ error: `${variable} must be a number` })
      .int(`${variable} must be an integer`)
      .min(1, `${variable} must be at least 1`)
      .max(32767, `${variable} must be at most 32767`),
    value,
  );
  return { [key]: count } as Partial<Record<K, number>>;
}

/** `ADMIN_OPERATOR_TOKENS`: `name=token` pairs joined by commas. */
function operatorTokensOf(value: string | undefined): { operatorTokens?: Record<string, string> } {
  if (value === undefined || value.trim() === '') return {};
  const tokens: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const match = /^\s*([\w.@-]{1,100})=(\S+)\s*$/.exec(pair);
    if (match === null || Object.hasOwn(tokens, match[1]!)) {
      throw badSetting(
        'ADMIN_OPERATOR_TOKENS',
        `ADMIN_OPERATOR_TOKENS must be name=token pairs joined by commas, each name once (got '${pair.split('=')[0]?.trim() ?? ''}=…')`,
      );
    }
    tokens[match[1]!] = match[2]!;
  }
  return { operatorTokens: tokens };
}

/**
 * Reads what every service process is configured with: `PORT`, `HOST`, `KAFKA_BROKERS`,
 * `SCHEMA_REGISTRY_URL`, `MONGODB_URL` (all three or none), `KAFKA_REPLICATION_FACTOR`,
 * `KAFKA_MIN_INSYNC_REPLICAS`, `SAGAFLOW_NAMESPACE`, `ADMIN_TOKEN`,
 * `ADMIN_OPERATOR_TOKENS`, `ADMIN_READ_TOKEN`,
 * `SAGAFLOW_PARTITIONS`, `SAGAFLOW_RELAY_SHARDS`, `LOG_LEVEL`. A bad value throws an `INVALID_ARGUMENT` error naming it.
 */
export function loadProcessConfig(options: {
  /** The port when `PORT` is not set. */
  readonly defaultPort: number;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}): ProcessConfig {
  const env = options.env ?? process.env;
  const servers = serversFromEnv(env);
  const token = env['ADMIN_TOKEN'];
  return {
    port: parseSetting('PORT', port('PORT'), env['PORT'] ?? options.defaultPort),
    host: env['HOST'] ?? '127.0.0.1',
    ...(servers === undefined ? {} : { servers }),
    namespace: parseSetting(
      'SAGAFLOW_NAMESPACE',
      z
        .string()
        .regex(
          /^([a-z][a-z0-9]{0,19})?$/,
          `SAGAFLOW_NAMESPACE must be 1 to 20 lower-case letters and digits, starting with a letter (got '${env['SAGAFLOW_NAMESPACE']}')`,
        ),
      env['SAGAFLOW_NAMESPACE'] ?? '',
    ),
    adminToken: token === undefined || token === '' ? undefined : token,
    ...operatorTokensOf(env['ADMIN_OPERATOR_TOKENS']),
    ...(env['ADMIN_READ_TOKEN'] === undefined || env['ADMIN_READ_TOKEN'] === ''
      ? {}
      : { readToken: env['ADMIN_READ_TOKEN'] }),
    partitions: parseSetting(
      'SAGAFLOW_PARTITIONS',
      z.coerce
        .number({ error: 'SAGAFLOW_PARTITIONS must be a number' })
        .int('SAGAFLOW_PARTITIONS must be an integer')
        .min(1, 'SAGAFLOW_PARTITIONS must be at least 1')
        .max(64, 'SAGAFLOW_PARTITIONS must be at most 64'),
      env['SAGAFLOW_PARTITIONS'] ?? 3,
    ),
    relayShards: parseSetting(
      'SAGAFLOW_RELAY_SHARDS',
      z.coerce
        .number({ error: 'SAGAFLOW_RELAY_SHARDS must be a number' })
        .int('SAGAFLOW_RELAY_SHARDS must be an integer')
        .min(1, 'SAGAFLOW_RELAY_SHARDS must be at least 1')
        .max(MAX_SHARDS, `SAGAFLOW_RELAY_SHARDS must be at most ${MAX_SHARDS}`),
      env['SAGAFLOW_RELAY_SHARDS'] ?? 1,
    ),
    logLevel: parseSetting(
      'LOG_LEVEL',
      z.enum(['silent', 'error', 'warn', 'info', 'debug'], {
        error: `LOG_LEVEL must be one of silent, error, warn, info, debug (got '${env['LOG_LEVEL']}')`,
      }),
      env['LOG_LEVEL'] ?? 'info',
    ),
  };
}
