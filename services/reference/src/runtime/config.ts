import { z } from 'zod';
import { SagaflowError } from '@sagaflow/core';
import { checkNamespace, serviceNames, type ServiceName } from '../domain/names.js';

/** Default HTTP port of each service. */
export const defaultPorts: Readonly<Record<ServiceName, number>> = {
  order: 3001,
  inventory: 3002,
  payment: 3003,
  shipping: 3004,
  orchestrator: 3005,
  admin: 8080,
};

/** A service's configuration, from its environment. */
export interface ServiceConfig {
  readonly service: ServiceName;
  readonly port: number;
  /** Address to listen on. @default '127.0.0.1' */
  readonly host: string;
  /** Real servers; absent: the in-memory adapters (one process only). */
  readonly servers?: {
    readonly kafkaBrokers: readonly string[];
    readonly schemaRegistryUrl: string;
    readonly mongodbUrl: string;
  };
  readonly namespace: string;
  readonly adminToken: string | undefined;
  /** Where the payment service answers (the orchestrator reads the credit view there). */
  readonly paymentUrl: string;
  /** Partitions of the topics a service creates. @default 3 */
  readonly partitions: number;
  /** pino-style level names: what the service logs. @default 'info' */
  readonly logLevel: 'silent' | 'error' | 'warn' | 'info' | 'debug';
}

const port = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a port number` })
    .int(`${name} must be an integer`)
    .min(0, `${name} must be between 0 and 65535`)
    .max(65535, `${name} must be between 0 and 65535`);

/** A bad setting: the framework's INVALID_ARGUMENT error, naming the variable. */
const badSetting = (variable: string, message: string) =>
  new SagaflowError('INVALID_ARGUMENT', message, { context: { field: variable } });

/**
 * Reads a service's configuration: `PORT`, `HOST`, `KAFKA_BROKERS`, `SCHEMA_REGISTRY_URL`,
 * `MONGODB_URL` (all three or none), `ADMIN_TOKEN`, `SAGAFLOW_NAMESPACE`, `PAYMENT_URL`,
 * `SAGAFLOW_PARTITIONS`, `LOG_LEVEL`. A bad value throws an `INVALID_ARGUMENT` error naming it.
 */
export function loadServiceConfig(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): ServiceConfig {
  if (!(serviceNames as readonly string[]).includes(service)) {
    throw badSetting(
      'service',
      `service must be one of ${serviceNames.join(', ')} (got '${service}')`,
    );
  }
  const name = service as ServiceName;
  const parse = <T>(variable: string, schema: z.ZodType<T>, value: unknown): T => {
    const result = schema.safeParse(value);
    if (!result.success) {
      throw badSetting(variable, result.error.issues[0]?.message ?? `${variable} is invalid`);
    }
    return result.data;
  };
  const serverVars = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URL'] as const;
  const given = serverVars.filter((v) => (env[v] ?? '') !== '');
  if (given.length > 0 && given.length < 3) {
    throw badSetting(
      serverVars.find((v) => !given.includes(v))!,
      `${serverVars.filter((v) => !given.includes(v)).join(', ')} must be set too: give all three of ${serverVars.join(', ')}, or none for the in-memory adapters`,
    );
  }
  const url = (v: string) =>
    parse(v, z.url({ error: `${v} must be a URL (got '${env[v]}')` }), env[v]);
  const servers =
    given.length === 3
      ? {
          kafkaBrokers: parse(
            'KAFKA_BROKERS',
            z
              .string()
              .regex(
                /^[^\s,]+:\d+(,[^\s,]+:\d+)*$/,
                `KAFKA_BROKERS must be host:port[,host:port…] (got '${env['KAFKA_BROKERS']}')`,
              ),
            env['KAFKA_BROKERS'],
          ).split(','),
          schemaRegistryUrl: url('SCHEMA_REGISTRY_URL'),
          mongodbUrl: parse(
            'MONGODB_URL',
            z.string().regex(/^mongodb(\+srv)?:\/\//, `MONGODB_URL must be a mongodb:// URL`),
            env['MONGODB_URL'],
          ),
        }
      : undefined;
  const namespace = checkNamespace('SAGAFLOW_NAMESPACE', env['SAGAFLOW_NAMESPACE'] ?? '');
  const token = env['ADMIN_TOKEN'];
  if (name === 'admin' && (token === undefined || token === '')) {
    throw badSetting(
      'ADMIN_TOKEN',
      'ADMIN_TOKEN must be set: the admin API answers only with its token',
    );
  }
  return {
    service: name,
    port: parse('PORT', port('PORT'), env['PORT'] ?? defaultPorts[name]),
    host: env['HOST'] ?? '127.0.0.1',
    ...(servers === undefined ? {} : { servers }),
    namespace,
    adminToken: token === undefined || token === '' ? undefined : token,
    paymentUrl: env['PAYMENT_URL'] ?? `http://127.0.0.1:${defaultPorts.payment}`,
    partitions: parse(
      'SAGAFLOW_PARTITIONS',
      z.coerce
        .number({ error: 'SAGAFLOW_PARTITIONS must be a number' })
        .int('SAGAFLOW_PARTITIONS must be an integer')
        .min(1, 'SAGAFLOW_PARTITIONS must be at least 1')
        .max(64, 'SAGAFLOW_PARTITIONS must be at most 64'),
      env['SAGAFLOW_PARTITIONS'] ?? 3,
    ),
    logLevel: parse(
      'LOG_LEVEL',
      z.enum(['silent', 'error', 'warn', 'info', 'debug'], {
        error: `LOG_LEVEL must be one of silent, error, warn, info, debug (got '${env['LOG_LEVEL']}')`,
      }),
      env['LOG_LEVEL'] ?? 'info',
    ),
  };
}
