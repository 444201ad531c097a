/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @default 10000 */
  readonly timeoutMs?: number;
  /** Pause between two checks. @default 50 */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. @default 'condition' */
  readonly description?: string;
}

/**
 * Checks `condition` until it returns a value other than `false`, `undefined` or `null`, and
 * returns that value. A check that throws counts as not yet; on timeout the error names what was
 * awaited and carries the last check's error.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Exclude<T, false | undefined | null>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const description = options.description ?? 'condition';
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`timeoutMs must be a positive number (got ${timeoutMs})`);
  }
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== false && value !== undefined && value !== null) {
        return value as Exclude<T, false | undefined | null>;
      }
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason =
        lastError === undefined
          ? ''
          : `; last check failed: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${reason}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
