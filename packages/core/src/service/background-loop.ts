import { backoffDelay, sleep, type BackoffPolicy } from '../backoff.js';

/**
 * Runs a round again and again in the background: at once when the round says there is more to
 * do, after `idleMs` when not, after a backoff when it failed. `stop` lets the round in hand
 * finish.
 */
export class BackgroundLoop {
  readonly #round: () => Promise<boolean>;
  readonly #options: {
    readonly idleMs: number;
    readonly backoff: BackoffPolicy;
    readonly onError: (error: unknown) => void;
  };
  #running: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(
    round: () => Promise<boolean>,
    options: { idleMs: number; backoff: BackoffPolicy; onError: (error: unknown) => void },
  ) {
    this.#round = round;
    this.#options = options;
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#stopping = false;
    this.#running = this.#loop();
  }

  /** Ends an idle pause at once; during a round, makes the next one start without a pause. */
  wake(): void {
    if (this.#wake !== undefined) this.#wake();
    else this.#woken = true;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    this.#running = undefined;
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      let pause: number;
      this.#woken = false;
      try {
        const more = await this.#round();
        failures = 0;
        pause = more ? 0 : this.#options.idleMs;
      } catch (error) {
        failures += 1;
        this.#options.onError(error);
        pause = backoffDelay(this.#options.backoff, Math.min(failures, 20));
      }
      if (pause > 0 && !this.#stopping && !this.#woken) {
        await Promise.race([
          sleep(pause),
          new Promise<void>((resolve) => {
            this.#wake = resolve;
          }),
        ]);
        this.#wake = undefined;
      }
    }
  }
}
