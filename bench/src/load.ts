/** An order of the benchmark: one line, whatever system places it. */
export interface BenchOrder {
  readonly customerId: string;
  readonly items: readonly { sku: string; quantity: number; unitPrice: number }[];
}

/** When each saga ended, however the system under test tells it. */
export interface Outcomes {
  ended(id: string): { at: number; outcome: 'completed' | 'compensated' } | undefined;
  /** Resolves when every saga has ended, or after `timeoutMs`. */
  waitFor(ids: readonly string[], timeoutMs: number): Promise<void>;
}

/** A system under load: places an order (resolving with its id once accepted). */
export interface LoadTarget {
  place(order: BenchOrder): Promise<string>;
  readonly outcomes: Outcomes;
}

/** What one load step measured. */
export interface StepResult {
  /** Orders offered per second. */
  readonly offeredPerSec: number;
  /** Sagas ended (completed or compensated) per second of the step. */
  readonly throughputPerSec: number;
  readonly placed: number;
  readonly ended: number;
  /** Time from placing an order to its saga's last event, for the sagas that ended. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly compensated: number;
  /** Orders the system refused to accept (an error answer or none). */
  readonly failed: number;
}

export const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * Open-loop load: orders are placed at a fixed rate whatever the system's pace (a slow system
 * does not slow the arrivals), for `durationMs`; then the step waits up to `drainMs` for their
 * sagas to end. Throughput counts the sagas that ended within the step and its drain.
 */
export async function openLoop(options: {
  readonly target: LoadTarget;
  readonly ratePerSec: number;
  readonly durationMs: number;
  readonly drainMs: number;
  readonly order: (n: number) => BenchOrder;
  /** Told of each accepted order and when it was sent. @default ignore */
  readonly onPlaced?: (id: string, sentAt: number) => void;
}): Promise<StepResult> {
  const { target, ratePerSec, durationMs } = options;
  const { outcomes } = target;
  const total = Math.max(1, Math.round((ratePerSec * durationMs) / 1000));
  const placedAt = new Map<string, number>();
  const requests: Promise<void>[] = [];
  let failed = 0;
  const start = Date.now();
  for (let n = 0; n < total; n++) {
    const due = start + (n * 1000) / ratePerSec;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = Date.now();
    requests.push(
      target.place(options.order(n)).then(
        (orderId) => {
          placedAt.set(orderId, sentAt);
          options.onPlaced?.(orderId, sentAt);
        },
        () => {
          failed += 1;
        },
      ),
    );
  }
  await Promise.all(requests);
  const ids = [...placedAt.keys()];
  await outcomes.waitFor(ids, options.drainMs);
  const latencies: number[] = [];
  let last = start;
  let compensated = 0;
  for (const [id, sentAt] of placedAt) {
    const ended = outcomes.ended(id);
    if (ended === undefined) continue;
    latencies.push(ended.at - sentAt);
    last = Math.max(last, ended.at);
    if (ended.outcome === 'compensated') compensated++;
  }
  latencies.sort((a, b) => a - b);
  const seconds = Math.max(durationMs, last - start) / 1000;
  return {
    offeredPerSec: ratePerSec,
    throughputPerSec: latencies.length / seconds,
    placed: ids.length,
    ended: latencies.length,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    compensated,
    failed,
  };
}
