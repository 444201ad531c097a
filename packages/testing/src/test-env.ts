import { z } from 'zod';

/** Addresses of the real servers that a test run uses. */
export interface SagaflowTestEnv {
  /** Kafka bootstrap servers. */
  readonly kafkaBrokers: readonly string[];
  /** Base URL of the Confluent-compatible schema registry API. */
  readonly schemaRegistryUrl: string;
  /** MongoDB connection string, without a database name. */
  readonly mongodbUrl: string;
  /** How the servers were found. */
  readonly source: 'environment' | 'local' | 'testcontainers';
}

/** The variables that point a run at servers that are already running. */
export const serverEnvVars = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URL'] as const;

const brokers = z
  .string()
  .transform((value) => value.split(',').map((b) => b.trim()))
  .pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be a comma-separated list of host:port'))
      .min(1),
  );
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const mongoUrl = z.string().regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// URL');

/**
 * Reads the three server variables. Returns undefined when none is set; throws naming the
 * variable when only some are set or one is malformed.
 */
export function serversFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): SagaflowTestEnv | undefined {
  const set = serverEnvVars.filter((name) => (env[name] ?? '') !== '');
  if (set.length === 0) return undefined;
  if (set.length < serverEnvVars.length) {
    const missing = serverEnvVars.filter((name) => !set.includes(name));
    throw new Error(
      `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not: set all three, or none to let the tests start servers`,
    );
  }
  const check = <T>(name: (typeof serverEnvVars)[number], schema: z.ZodType<T>): T => {
    const parsed = schema.safeParse(env[name]);
    if (!parsed.success) {
      throw new Error(
        `${name} ${parsed.error.issues[0]?.message ?? 'is invalid'} (got '${env[name]}')`,
      );
    }
    return parsed.data;
  };
  return {
    kafkaBrokers: check('KAFKA_BROKERS', brokers),
    schemaRegistryUrl: check('SCHEMA_REGISTRY_URL', httpUrl).replace(/\/+$/, ''),
    mongodbUrl: check('MONGODB_URL', mongoUrl),
    source: 'environment',
  };
}
