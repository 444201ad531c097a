import type { Server } from 'node:http';
import type { Express } from 'express';
import { LivenessWatchdog, type LivenessProbe } from './liveness-watchdog.js';
import type { LivenessReport, ReadinessReport } from './service-app.js';
import { startWithRetries, type StartRetryOptions } from './start-with-retries.js';

/** A service a process runs: its HTTP app and the framework parts behind it. */
export interface ServiceProcess {
  /** e.g. `payment-service`. */
  readonly name: string;
  readonly app: Express;
  start(): Promise<void>;
  /** Stops the framework parts and closes the clients. */
  stop(): Promise<void>;
  readiness(): Promise<ReadinessReport>;
}

/** A started service: its HTTP server listening and its framework parts running. */
export interface RunningService<S extends ServiceProcess = ServiceProcess> {
  readonly service: S;
  readonly server: Server;
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts a built service: the framework parts first, then its HTTP server. */
export async function listen<S extends ServiceProcess>(
  service: S,
  address: { readonly port: number; readonly host: string },
): Promise<RunningService<S>> {
  await service.start();
  const server = service.app.listen(address.port, address.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (error) => {
      reject(
        new ListenError(
          `${service.name} cannot listen on ${address.host}:${address.port}: ${error.message}`,
        ),
      );
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
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

/** A port that cannot be listened on: not worth a retry. */
class ListenError extends TypeError {}

/** The pino-shaped lines the process runner writes. */
export interface ProcessLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
  fatal(object: object, message: string): void;
}

/** Options of {@link runServiceProcess}. */
export interface ServiceProcessOptions<S extends ServiceProcess> {
  /** Where the HTTP server listens. */
  readonly address: { readonly port: number; readonly host: string };
  readonly logger: ProcessLogger;
  /**
   * Builds the service afresh (new clients): called once per start-up attempt, and given the
   * process's liveness for its `GET /healthz`.
   */
  readonly build: (context: { readonly liveness: () => LivenessReport }) => Promise<S>;
  /** How long start-up waits out servers that do not answer yet. */
  readonly startup?: StartRetryOptions;
  /**
   * How long the database or Kafka may stay unreachable before the process exits (code 1) for
   * its supervisor to start a fresh one; `false` never exits.
   * @default 60_000
   */
  readonly deadAfterMs?: number | false;
  /**
   * How long a client may stay stuck (its server answers a fresh client, not this one) before
   * the process exits; ignored when `deadAfterMs` is `false`.
   * @default 15_000
   */
  readonly stuckAfterMs?: number;
  /** Time between liveness probes. @default 5_000 */
  readonly livenessIntervalMs?: number;
  /** Runs after the service stopped, before the process exits (e.g. flush traces). */
  readonly afterStop?: () => Promise<void>;
  /** Ends the process. @default process.exit */
  readonly exit?: (code: number) => void;
}

/** The checks of a readiness report that failed, other than the service's own state. */
export function livenessOf(report: ReadinessReport): LivenessProbe {
  let stuck = false;
  const failed = Object.entries(report.checks).flatMap(([name, check]) => {
    if (name === 'service') return [];
    const {
      ok,
      error,
      stuck: clientStuck,
    } = (check ?? {}) as {
      ok?: unknown;
      error?: unknown;
      stuck?: unknown;
    };
    if (ok !== false) return [];
    if (clientStuck === true) stuck = true;
    return [`${name}: ${typeof error === 'string' ? error : 'not answering'}`];
  });
  if (failed.length === 0) return { ok: true };
  return { ok: false, reason: failed.join('; '), ...(stuck ? { stuck } : {}) };
}

/**
 * Runs one service as the process's only job. Start-up waits out servers that are not ready yet
 * (each attempt builds the service afresh); once running, a {@link LivenessWatchdog} probes the
 * database and Kafka, and when they have failed for `deadAfterMs` the process says so on
 * `GET /healthz` (503) and exits, so that its supervisor starts a fresh one with new clients;
 * SIGTERM and SIGINT stop it gracefully (in-flight messages finish and commit, the relay
 * publishes what it holds).
 */
export async function runServiceProcess<S extends ServiceProcess>(
  options: ServiceProcessOptions<S>,
): Promise<RunningService<S>> {
  const { logger: log } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let watchdog: LivenessWatchdog | undefined;
  const liveness = (): LivenessReport =>
    watchdog === undefined || watchdog.alive
      ? { alive: true }
      : { alive: false, reason: watchdog.failing?.reason ?? 'servers unreachable' };
  const running = await startWithRetries(
    async () => {
      const service = await options.build({ liveness });
      try {
        return await listen(service, options.address);
      } catch (error) {
        await service.stop().catch(() => {});
        throw error;
      }
    },
    {
      ...options.startup,
      onRetry: (error, attempt, delayMs) => {
        log.warn(
          { err: error, attempt, delayMs },
          `start-up failed (${error instanceof Error ? error.message : String(error)}); trying again`,
        );
        options.startup?.onRetry?.(error, attempt, delayMs);
      },
    },
  );
  let stopping = false;
  const stopAndExit = (code: number, reason: object, message: string) => {
    if (stopping) return;
    stopping = true;
    log.info(reason, message);
    watchdog?.stop();
    // A stop that fails or hangs is a failure, whatever the reason for stopping.
    const failed = code === 0 ? 1 : code;
    // A service whose clients are stuck may not stop gracefully: do not wait for ever.
    const forced = setTimeout(() => exit(failed), 15_000);
    forced.unref();
    running
      .stop()
      .then(() => options.afterStop?.())
      .then(
        () => {
          clearTimeout(forced);
          log.info({}, 'stopped');
          exit(code);
        },
        (error: unknown) => {
          clearTimeout(forced);
          log.error({ err: error }, 'stopped with an error');
          exit(failed);
        },
      );
  };
  log.info(
    { port: running.port },
    `${running.service.name} listening on ${options.address.host}:${running.port}`,
  );
  if (options.deadAfterMs !== false) {
    const service = running.service;
    watchdog = new LivenessWatchdog({
      probe: async () => livenessOf(await service.readiness()),
      deadAfterMs: options.deadAfterMs ?? 60_000,
      stuckAfterMs: options.stuckAfterMs ?? 15_000,
      intervalMs: options.livenessIntervalMs ?? 5_000,
      onDead: (reason, failingForMs) => {
        log.fatal(
          { reason, failingForMs },
          `servers unreachable for ${Math.round(failingForMs / 1000)} s (${reason}): exiting for a fresh process`,
        );
        stopAndExit(1, { reason }, 'stopping');
      },
    });
    watchdog.start();
  }
  process.once('SIGTERM', () => stopAndExit(0, { signal: 'SIGTERM' }, 'stopping'));
  process.once('SIGINT', () => stopAndExit(0, { signal: 'SIGINT' }, 'stopping'));
  return running;
}
