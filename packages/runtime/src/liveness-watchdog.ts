import { invalidArgument } from '@sagaflow/core';

/** What a liveness probe reports: the checks that failed, by name, with their errors. */
export interface LivenessProbe {
  readonly ok: boolean;
  /** Why not, when not (e.g. `database: connection 2 to 127.0.0.1:27017 closed`). */
  readonly reason?: string;
  /** Whether a failure is the process's own: its server answers a fresh client, not its own. */
  readonly stuck?: boolean;
}

/** Options of {@link LivenessWatchdog}. */
export interface LivenessWatchdogOptions {
  /** Asks whether the process can still reach what it needs (the database, Kafka). */
  readonly probe: () => Promise<LivenessProbe>;
  /**
   * How long the probe may fail without a break before the process is declared dead. A client
   * that has not recovered by then is not expected to: a fresh process is.
   * @default 60_000
   */
  readonly deadAfterMs?: number;
  /**
   * How long the probe may report a stuck client without a break before the process is declared
   * dead: a server that answers fresh clients will not be reached by this one again.
   * @default 15_000
   */
  readonly stuckAfterMs?: number;
  /** Time between probes. @default 5_000 */
  readonly intervalMs?: number;
  /** Told once, when the process is declared dead (e.g. log and exit). */
  readonly onDead: (reason: string, failingForMs: number) => void;
  /** The clock. @default Date.now */
  readonly now?: () => number;
}

/**
 * Probes a process's servers at an interval and declares the process dead when they have failed
 * without a break for `deadAfterMs`. A short outage (a database or broker restart) is waited out:
 * the clients reconnect by themselves. But a client can stay stuck after a restart of its server
 * (a database driver whose server monitor hung on a restart and never selected the server again
 * was seen); then the only cure is a fresh process, which is what a supervisor or Kubernetes'
 * liveness probe gives once {@link alive} turns false or `onDead` exits. A probe that can tell
 * such a stuck client (its server answers a fresh one) reports `stuck`, and the process is
 * declared dead after the shorter `stuckAfterMs`.
 */
export class LivenessWatchdog {
  readonly #options: Required<Omit<LivenessWatchdogOptions, 'onDead' | 'probe'>> &
    Pick<LivenessWatchdogOptions, 'onDead' | 'probe'>;
  #failingSince: number | undefined;
  #stuckSince: number | undefined;
  #lastReason: string | undefined;
  #dead = false;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;

  constructor(options: LivenessWatchdogOptions) {
    const deadAfterMs = options.deadAfterMs ?? 60_000;
    const intervalMs = options.intervalMs ?? 5_000;
    const stuckAfterMs = options.stuckAfterMs ?? 15_000;
    if (!Number.isInteger(deadAfterMs) || deadAfterMs < 1) {
      throw invalidArgument('deadAfterMs', `must be a positive integer (got ${deadAfterMs})`);
    }
    if (!Number.isInteger(stuckAfterMs) || stuckAfterMs < 1) {
      throw invalidArgument('stuckAfterMs', `must be a positive integer (got ${stuckAfterMs})`);
    }
    if (!Number.isInteger(intervalMs) || intervalMs < 1) {
      throw invalidArgument('intervalMs', `must be a positive integer (got ${intervalMs})`);
    }
    this.#options = {
      ...options,
      deadAfterMs,
      stuckAfterMs,
      intervalMs,
      now: options.now ?? Date.now,
    };
  }

  /** False once the probe has failed without a break for `deadAfterMs`. */
  get alive(): boolean {
    return !this.#dead;
  }

  /** Since when the probe has failed without a break, and why; undefined while it passes. */
  get failing(): { readonly sinceMs: number; readonly reason: string } | undefined {
    return this.#failingSince === undefined
      ? undefined
      : { sinceMs: this.#failingSince, reason: this.#lastReason ?? 'unknown' };
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Probes once (the interval calls it; a test may too). */
  async check(): Promise<void> {
    if (this.#probing || this.#dead) return;
    this.#probing = true;
    let result: LivenessProbe;
    try {
      result = await this.#options.probe();
    } catch (error) {
      result = { ok: false, reason: error instanceof Error ? error.message : String(error) };
    } finally {
      this.#probing = false;
    }
    const now = this.#options.now();
    if (result.ok) {
      this.#failingSince = undefined;
      this.#stuckSince = undefined;
      this.#lastReason = undefined;
      return;
    }
    this.#failingSince ??= now;
    this.#stuckSince = result.stuck === true ? (this.#stuckSince ?? now) : undefined;
    this.#lastReason = result.reason ?? 'the probe failed';
    const failingForMs = now - this.#failingSince;
    const stuckForMs = this.#stuckSince === undefined ? -1 : now - this.#stuckSince;
    if (failingForMs >= this.#options.deadAfterMs || stuckForMs >= this.#options.stuckAfterMs) {
      this.#dead = true;
      this.stop();
      this.#options.onDead(this.#lastReason, failingForMs);
    }
  }
}
