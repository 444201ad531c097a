import { openLoop, percentile, type BenchOrder, type LoadTarget } from './load.js';

/** What a SIGKILL of one service cost. */
export interface RecoveryResult {
  readonly killed: string;
  readonly offeredPerSec: number;
  /** From the SIGKILL to the first completed saga of an order placed after it. */
  readonly firstCompletedAfterKillMs: number;
  /**
   * Latency of the sagas that ended before the kill (the steady state), and of those placed
   * after it.
   */
  readonly before: { readonly p50Ms: number; readonly p99Ms: number };
  readonly after: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  /** Orders placed whose saga had not ended when the measurement stopped. */
  readonly unfinished: number;
}

/**
 * Open-loop load at a steady rate; after `beforeMs`, `kill` SIGKILLs a service (restarted by
 * whoever runs it); the load goes on for `afterMs`, then the sagas drain.
 */
export async function measureRecovery(options: {
  readonly target: LoadTarget;
  readonly killed: string;
  readonly kill: () => Promise<void>;
  readonly ratePerSec: number;
  readonly beforeMs: number;
  readonly afterMs: number;
  readonly drainMs: number;
  readonly order: (n: number) => BenchOrder;
}): Promise<RecoveryResult> {
  const sent = new Map<string, number>();
  let killAt = Number.POSITIVE_INFINITY;
  const killing = new Promise<void>((resolve, reject) => {
    setTimeout(() => {
      killAt = Date.now();
      options.kill().then(resolve, reject);
    }, options.beforeMs);
  });
  await openLoop({
    target: options.target,
    ratePerSec: options.ratePerSec,
    durationMs: options.beforeMs + options.afterMs,
    drainMs: options.drainMs,
    order: options.order,
    onPlaced: (id, at) => sent.set(id, at),
  });
  await killing;
  const before: number[] = [];
  const after: number[] = [];
  let firstCompleted = Number.NaN;
  let unfinished = 0;
  for (const [id, at] of sent) {
    const ended = options.target.outcomes.ended(id);
    if (ended === undefined) {
      unfinished += 1;
      continue;
    }
    // Before: the steady state (sagas over before the kill); after: every order placed after it.
    if (ended.at < killAt) before.push(ended.at - at);
    else if (at >= killAt) after.push(ended.at - at);
    if (at >= killAt && ended.outcome === 'completed') {
      const since = ended.at - killAt;
      if (Number.isNaN(firstCompleted) || since < firstCompleted) firstCompleted = since;
    }
  }
  before.sort((a, b) => a - b);
  after.sort((a, b) => a - b);
  return {
    killed: options.killed,
    offeredPerSec: options.ratePerSec,
    firstCompletedAfterKillMs: firstCompleted,
    before: { p50Ms: percentile(before, 50), p99Ms: percentile(before, 99) },
    after: {
      p50Ms: percentile(after, 50),
      p99Ms: percentile(after, 99),
      maxMs: after.at(-1) ?? Number.NaN,
    },
    unfinished,
  };
}
