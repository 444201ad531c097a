import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backoffDelay } from '@sagaflow/core';
import type { ServiceName } from '@sagaflow/reference-contracts';

const servicesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
}

interface Managed {
  child: ChildProcess;
  exited: Promise<void>;
  log: WriteStream;
}

/**
 * Runs each reference service as its own process (`node --import tsx src/main.ts` in the
 * service's package, as `pnpm --filter <package> start` does) and restarts one that dies.
 */
export class ServiceSupervisor {
  readonly #options: SupervisorOptions;
  readonly #running = new Map<ServiceName, Managed>();
  /** Exits within 10 s of a start, in a row, by service. */
  readonly #quickExits = new Map<ServiceName, number>();
  #stopping = false;
  /** Restarts after an unplanned exit, by service. */
  readonly restarts = new Map<ServiceName, number>();

  constructor(options: SupervisorOptions) {
    this.#options = options;
    mkdirSync(options.logDir, { recursive: true });
  }

  /** Starts a service process (it keeps being restarted until {@link stopAll}). */
  start(service: ServiceName): void {
    const log = createWriteStream(path.join(this.#options.logDir, `${service}.log`), {
      flags: 'a',
    });
    const startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: path.join(servicesDir, `${service}-service`),
      env: { ...this.#options.env, PORT: String(this.#options.ports[service]) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        log.end();
        resolve();
        if (this.#running.get(service)?.child !== child) return;
        this.#running.delete(service);
        if (this.#stopping || this.#options.restart === false) return;
        this.#options.onEvent?.(
          `${service}-service exited (${signal ?? `code ${code}`}); restarting`,
        );
        this.restarts.set(service, (this.restarts.get(service) ?? 0) + 1);
        const base = this.#options.restartDelayMs ?? 250;
        const quick =
          Date.now() - startedAt < 10_000 ? (this.#quickExits.get(service) ?? 0) + 1 : 0;
        this.#quickExits.set(service, quick);
        const delay =
          quick === 0
            ? base
            : base + backoffDelay({ initialMs: base, maxMs: 5_000, multiplier: 2 }, quick);
        setTimeout(() => {
          if (!this.#stopping && !this.#running.has(service)) this.start(service);
        }, delay);
      });
    });
    this.#running.set(service, { child, exited, log });
  }

  /** Sends a signal to a service (SIGKILL by default); the supervisor restarts it. */
  async kill(service: ServiceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const managed = this.#running.get(service);
    if (managed === undefined) return;
    managed.child.kill(signal);
    await managed.exited;
  }

  /** The pid of a running service. */
  pid(service: ServiceName): number | undefined {
    return this.#running.get(service)?.child.pid;
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
