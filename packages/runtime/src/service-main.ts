import { createLogger, startTracing } from '@sagaflow/observability';
import { memoryAdapters, realAdapters, type AdapterFactory } from './adapters.js';
import { loadProcessConfig, type ProcessConfig } from './process-config.js';
import type { ServiceBuildOptions } from './service-context.js';
import { runServiceProcess, type RunningService, type ServiceProcess } from './service-process.js';

/** Options of {@link runServiceMain}. */
export interface ServiceMainOptions<C extends ProcessConfig, S extends ServiceProcess> {
  /** The service's name in logs and traces, e.g. `payment-service`. */
  readonly name: string;
  /** The port when `PORT` is not set. */
  readonly defaultPort: number;
  /** The `.avsc` folders of the service's catalog, sagaflow's own (`controlSchemasDir`) included. */
  readonly schemaDirs: readonly string[];
  /** Reads the configuration. @default {@link loadProcessConfig} with `defaultPort` */
  readonly loadConfig?: (env: NodeJS.ProcessEnv) => C;
  /** Builds the service (called again on each start-up attempt). */
  readonly build: (config: C, adapters: AdapterFactory, options: ServiceBuildOptions) => Promise<S>;
}

/**
 * The whole `main` of a service: reads its configuration from the environment (a bad value: exit
 * code 2, naming the variable), logs JSON lines on stdout (`LOG_LEVEL`), exports traces when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, runs on the real servers when `KAFKA_BROKERS`,
 * `SCHEMA_REGISTRY_URL` and `MONGODB_URL` are set (in memory otherwise), and runs the service
 * with {@link runServiceProcess}: start-up waits out servers not ready yet, a process whose
 * servers stay unreachable exits for a fresh one, SIGTERM stops it gracefully.
 */
export async function runServiceMain<C extends ProcessConfig, S extends ServiceProcess>(
  options: ServiceMainOptions<C, S>,
): Promise<RunningService<S>> {
  const fail = (error: unknown): never => {
    process.stderr.write(`${options.name}: ${(error as Error).message}\n`);
    process.exit(2);
  };
  let config: C;
  let tracing: ReturnType<typeof startTracing>;
  try {
    config =
      options.loadConfig?.(process.env) ??
      (loadProcessConfig({ defaultPort: options.defaultPort }) as C);
    // Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set.
    tracing = startTracing({ serviceName: options.name });
  } catch (error) {
    return fail(error);
  }
  const log = createLogger({ service: options.name, level: config.logLevel });
  if (tracing.enabled) log.info('tracing: spans exported by OTLP');
  const { schemaDirs } = options;
  const adapters =
    config.servers === undefined
      ? memoryAdapters({ schemaDirs })
      : realAdapters(config.servers, { schemaDirs });
  if (config.servers === undefined) {
    log.warn(
      'KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL are not set: in-memory adapters, nothing is kept',
    );
  }
  try {
    return await runServiceProcess({
      address: config,
      logger: log,
      // The framework logs its background failures (retried) and its lines about messages itself.
      build: ({ liveness }) => options.build(config, adapters, { logger: log, liveness }),
      afterStop: () => tracing.shutdown(),
      // In memory there is nothing to reconnect to.
      ...(config.servers === undefined ? { deadAfterMs: false as const } : {}),
    });
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    process.exit(1);
  }
}
