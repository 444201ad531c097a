import { backoffDelay, isSagaflowError, type BackoffPolicy } from '@sagaflow/core';

/** Options of {@link startWithRetries}. */
export interface StartRetryOptions {
  /** Give up after this long (then the last error is thrown). @default 120_000 */
  readonly timeoutMs?: number;
  /** Pauses between attempts. @default {@link startBackoff} */
  readonly backoff?: BackoffPolicy;
  /** Told about each failed attempt that will be retried. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** The clock. @default Date.now */
  readonly now?: () => number;
}

/** Pauses between start-up attempts: growing from 0.5 s to 5 s, with jitter. */
export const startBackoff: BackoffPolicy = { initialMs: 500, maxMs: 5_000, multiplier: 2 };

/**
 * True for an error that a later attempt may not meet: anything but a framework error marked
 * terminal (bad configuration, an incompatible schema). Servers that are still starting answer
 * with all sorts of errors (kafkajs' `This server does not host this topic-partition`, a
 * database's refused connection, a registry's 503), and a service that dies on them only trades
 * a short wait for a restart loop.
 */
export function isTransientStartError(error: unknown): boolean {
  if (isSagaflowError(error)) return error.retriable;
  return !(error instanceof TypeError || error instanceof RangeError);
}

/**
 * Runs `attempt` until it succeeds, a terminal error is thrown (see
 * {@link isTransientStartError}) or `timeoutMs` has passed. `attempt` must clean up after
 * itself when it fails (close what it opened), since the next one starts afresh.
 */
export async function startWithRetries<T>(
  attempt: () => Promise<T>,
  options: StartRetryOptions = {},
): Promise<T> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.timeoutMs ?? 120_000);
  for (let n = 1; ; n += 1) {
    try {
      return await attempt();
    } catch (error) {
      const delay = backoffDelay(options.backoff ?? startBackoff, n);
      if (!isTransientStartError(error) || now() + delay > deadline) throw error;
      options.onRetry?.(error, n, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
