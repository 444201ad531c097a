import { createLogger, startTracing } from '@sagaflow/observability';
import { runServiceProcess as runProcess, type RunningService } from '@sagaflow/runtime';
import type { Logger } from 'pino';
import { buildReferenceService, type ReferenceService } from './services.js';
import { memoryAdapters, realAdapters } from './runtime/adapters.js';
import { loadServiceConfig, type ServiceConfig } from './runtime/config.js';

/** The logger of a service process: JSON lines on stdout. */
export const serviceLogger = (service: string, level: ServiceConfig['logLevel']): Logger =>
  createLogger({ service, level });

/**
 * Runs one reference service as its own process, configured from the environment (see
 * `loadServiceConfig`), on the framework's process runner: start-up waits out servers that are
 * not ready yet, a process whose database or Kafka stays unreachable for a minute exits for a
 * fresh one, and SIGTERM and SIGINT stop it gracefully.
 */
export async function runServiceProcess(
  serviceName: string,
): Promise<RunningService<ReferenceService>> {
  let config: ServiceConfig;
  try {
    config = loadServiceConfig(serviceName);
  } catch (error) {
    process.stderr.write(`${serviceName}-service: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const log = serviceLogger(`${serviceName}-service`, config.logLevel);
  let tracing: ReturnType<typeof startTracing>;
  try {
    // Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set.
    tracing = startTracing({ serviceName: `${serviceName}-service` });
  } catch (error) {
    process.stderr.write(`${serviceName}-service: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if (tracing.enabled) log.info('tracing: spans exported by OTLP');
  const adapters = config.servers === undefined ? memoryAdapters() : realAdapters(config.servers);
  if (config.servers === undefined) {
    log.warn(
      'KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL are not set: in-memory adapters, nothing is kept',
    );
  }
  try {
    return await runProcess({
      address: config,
      logger: log,
      // The framework logs its background failures (retried) and its lines about messages itself.
      build: ({ liveness }) => buildReferenceService(config, adapters, { logger: log, liveness }),
      afterStop: () => tracing.shutdown(),
      ...(config.servers === undefined ? { deadAfterMs: false as const } : {}),
    });
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    process.exit(1);
  }
}
