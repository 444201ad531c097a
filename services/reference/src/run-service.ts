import type { Server } from 'node:http';
import { createLogger, startTracing } from '@sagaflow/observability';
import type { Logger } from 'pino';
import { buildReferenceService, type ReferenceService } from './services.js';
import { memoryAdapters, realAdapters } from './runtime/adapters.js';
import { loadServiceConfig, type ServiceConfig } from './runtime/config.js';

/** A started service: its HTTP server listening and its framework parts running. */
export interface RunningService {
  readonly service: ReferenceService;
  readonly server: Server;
  /** The port it listens on (useful with `PORT=0`). */
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts a built service: the framework parts first, then its HTTP server. */
export async function listen(
  service: ReferenceService,
  config: Pick<ServiceConfig, 'port' | 'host'>,
): Promise<RunningService> {
  await service.start();
  const server = service.app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (error) => {
      reject(
        new Error(
          `${service.name} cannot listen on ${config.host}:${config.port}: ${error.message}`,
        ),
      );
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  return {
    service,
    server,
    port,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.stop();
    },
  };
}

/** The logger of a service process: JSON lines on stdout. */
export const serviceLogger = (service: string, level: ServiceConfig['logLevel']): Logger =>
  createLogger({ service, level });

/**
 * Runs one reference service as its own process, configured from the environment (see
 * `loadServiceConfig`); SIGTERM and SIGINT stop it gracefully (in-flight messages finish and
 * commit, the relay publishes what it holds).
 */
export async function runServiceProcess(serviceName: string): Promise<void> {
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
  let running: RunningService;
  try {
    // The framework logs its background failures (retried) and its lines about messages itself.
    const service = await buildReferenceService(config, adapters, { logger: log });
    running = await listen(service, config);
  } catch (error) {
    log.fatal({ err: error }, 'could not start');
    process.exit(1);
  }
  log.info(
    { port: running.port },
    `${running.service.name} listening on ${config.host}:${running.port}`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    running
      .stop()
      .then(() => tracing.shutdown())
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'stopped with an error');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
