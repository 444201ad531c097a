/** Exponential backoff with full jitter, bounded. */
export interface BackoffPolicy {
  /** Delay before the first retry. @default 20 */
  readonly initialMs: number;
  /** Upper bound of one delay. @default 2000 */
  readonly maxMs: number;
  /** Growth factor per attempt. @default 2 */
  readonly multiplier: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 20, maxMs: 2000, multiplier: 2 };

/** The delay before retry number `attempt` (1-based): uniform in [0, min(max, initial·m^(a-1))]. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** (attempt - 1));
  return Math.round(random() * ceiling);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
