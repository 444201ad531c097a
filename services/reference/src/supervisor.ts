import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backoffDelay } from '@sagaflow/core';
import { freePorts } from '@sagaflow/infra-local';
import type { ServiceName } from '@sagaflow/reference-contracts';

const servicesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A port nobody listens on right now (several at once: `freePorts`, which keeps them apart). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** Options of {@link ServiceSupervisor}. */
export interface SupervisorOptions {
  /** Environment of every service process (the servers, the token, the namespace). */
  readonly env: NodeJS.ProcessEnv;
  /** Port of each service. */
  readonly ports: Readonly<Record<ServiceName, number>>;
  /** Where each service's output goes, as `<dir>/<service>.log`. */
  readonly logDir: string;
  /** Restart a service that exits while the supervisor runs. @default true */
  readonly restart?: boolean;
  /**
   * Pause before a restart; it grows with a backoff (up to about 5 s) while a service keeps dying
   * within 10 s of its start, so that one that cannot start (its database is down) does not spin.
   * @default 250
   */
  readonly restartDelayMs?: number;
  /** Told about exits and restarts. @default ignore */
  readonly onEvent?: (message: string) => void;
  /**
   * The folder of the services' packages: a service runs `src/main.ts` in `<service>-service`.
   * @default the reference system's `services/`
   */
  readonly servicesDir?: string;
}

interface Managed {
  child: ChildProcess;
  exited: Promise<void>;
  log: WriteStream;
}

/** Replicas of one service run on its port + 100 · replica. */
export const REPLICA_PORT_STEP = 100;

/** A running process: a service's replica (0 for the first). */
const instanceOf = (service: ServiceName, replica: number) =>
  replica === 0 ? service : `${service}#${replica}`;

/**
 * Runs each reference service as its own process (`node --import tsx src/main.ts` in the
 * service's package, as `pnpm --filter <package> start` does) and restarts one that dies.
 */
export class ServiceSupervisor {
  readonly #options: SupervisorOptions;
  /** Running processes by instance (`inventory`, `inventory#1`, …). */
  readonly #running = new Map<string, Managed>();
  /** Exits within 10 s of a start, in a row, by instance. */
  readonly #quickExits = new Map<string, number>();
  #stopping = false;
  /** Instances stopped on purpose ({@link stop}): not restarted until started again. */
  readonly #held = new Set<string>();
  /** Restarts after an unplanned exit, by service. */
  readonly restarts = new Map<ServiceName, number>();

  constructor(options: SupervisorOptions) {
    this.#options = options;
    mkdirSync(options.logDir, { recursive: true });
  }

  /**
   * Starts a service process (it keeps being restarted until {@link stopAll}): replica k of a
   * service listens on its port + {@link REPLICA_PORT_STEP} · k and logs to `<service>#k.log`.
   * An instance already running is left as it is: one process per instance, whose exit the
   * supervisor sees and {@link stopAll} stops.
   */
  start(service: ServiceName, replica = 0): void {
    const instance = instanceOf(service, replica);
    this.#held.delete(instance);
    if (this.#running.has(instance)) return;
    const log = createWriteStream(path.join(this.#options.logDir, `${instance}.log`), {
      flags: 'a',
    });
    const startedAt = Date.now();
    const port = this.#options.ports[service] + REPLICA_PORT_STEP * replica;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: path.join(this.#options.servicesDir ?? servicesDir, `${service}-service`),
      env: { ...this.#options.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        log.end();
        resolve();
        if (this.#running.get(instance)?.child !== child) return;
        this.#running.delete(instance);
        if (this.#stopping || this.#held.has(instance) || this.#options.restart === false) return;
        this.#options.onEvent?.(
          `${instance.replace(/^[a-z]+/, '$&-service')} exited (${signal ?? `code ${code}`}); restarting`,
        );
        this.restarts.set(service, (this.restarts.get(service) ?? 0) + 1);
        const base = this.#options.restartDelayMs ?? 250;
        const quick =
          Date.now() - startedAt < 10_000 ? (this.#quickExits.get(instance) ?? 0) + 1 : 0;
        this.#quickExits.set(instance, quick);
        const delay =
          quick === 0
            ? base
            : base + backoffDelay({ initialMs: base, maxMs: 5_000, multiplier: 2 }, quick);
        setTimeout(() => {
          if (!this.#stopping && !this.#held.has(instance) && !this.#running.has(instance)) {
            this.start(service, replica);
          }
        }, delay);
      });
    });
    this.#running.set(instance, { child, exited, log });
  }

  /** Sends a signal to a service's replica (SIGKILL by default); the supervisor restarts it. */
  async kill(service: ServiceName, signal: NodeJS.Signals = 'SIGKILL', replica = 0): Promise<void> {
    const managed = this.#running.get(instanceOf(service, replica));
    if (managed === undefined) return;
    managed.child.kill(signal);
    await managed.exited;
  }

  /**
   * Stops a service's replica (SIGTERM, SIGKILL after the grace period) and keeps it stopped
   * until {@link start} starts it again: an outage of that service.
   */
  async stop(service: ServiceName, replica = 0, graceMs = 20_000): Promise<void> {
    const instance = instanceOf(service, replica);
    this.#held.add(instance);
    const managed = this.#running.get(instance);
    if (managed === undefined) return;
    managed.child.kill('SIGTERM');
    const timer = setTimeout(() => managed.child.kill('SIGKILL'), graceMs);
    await managed.exited;
    clearTimeout(timer);
  }

  /** The pid of a running service's replica. */
  pid(service: ServiceName, replica = 0): number | undefined {
    return this.#running.get(instanceOf(service, replica))?.child.pid;
  }

  /** Stops every service with SIGTERM (SIGKILL after the grace period) and restarts none. */
  async stopAll(graceMs = 20_000): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#running.values()].map(async ({ child, exited }) => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.#running.clear();
  }
}
