/**
 * The soak: many sagas back to back on one system (a fixed number in flight, each ended saga
 * making room for the next order), to show whether cost stays flat as the data grows: the
 * throughput over the last sagas against that over the first.
 */
import type { BenchOrder, LoadTarget } from './load.js';
import { percentile } from './load.js';

/** What a soak measured. */
export interface SoakResult {
  readonly sagas: number;
  /** Sagas ended within their wait. */
  readonly ended: number;
  /** Orders held in flight. */
  readonly inFlight: number;
  /** Sagas in each of the two windows compared. */
  readonly window: number;
  /** Sagas ended per second over the first window (from the first order on). */
  readonly firstPerSec: number;
  /** Sagas ended per second over the last window. */
  readonly lastPerSec: number;
  /** lastPerSec ÷ firstPerSec. */
  readonly lastVsFirst: number;
  /** Median time from order to saga end over the first and the last window, ms. */
  readonly firstP50Ms: number;
  readonly lastP50Ms: number;
  readonly durationSec: number;
  /** Peak resident memory of each process over the soak, MiB, where the system tells it. */
  readonly peakRssMiB?: Readonly<Record<string, number>>;
}

/**
 * Places `sagas` orders, `inFlight` at a time, each slot placing its next order once the saga of
 * its last one ended (or `sagaTimeoutMs` passed).
 */
export async function runSoak(options: {
  readonly target: LoadTarget;
  readonly sagas: number;
  readonly inFlight: number;
  readonly window: number;
  readonly order: (n: number) => BenchOrder;
  readonly sagaTimeoutMs: number;
  /** Told every `every` sagas how many have ended. @default not told */
  readonly progress?: (ended: number) => void;
}): Promise<Omit<SoakResult, 'peakRssMiB'>> {
  const { target, sagas, inFlight, window } = options;
  if (window * 2 > sagas)
    throw new Error(`a soak of ${sagas} sagas cannot hold two windows of ${window}`);
  const started = Date.now();
  const done: { endedAt: number; latencyMs: number }[] = [];
  let next = 0;
  const slot = async () => {
    for (let n = next++; n < sagas; n = next++) {
      const placedAt = Date.now();
      const id = await target.place(options.order(n));
      await target.outcomes.waitFor([id], options.sagaTimeoutMs);
      const ended = target.outcomes.ended(id);
      if (ended === undefined) continue;
      done.push({ endedAt: ended.at, latencyMs: ended.at - placedAt });
      if (done.length % 1000 === 0) options.progress?.(done.length);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, slot));
  const byEnd = [...done].sort((a, b) => a.endedAt - b.endedAt);
  const first = byEnd.slice(0, window);
  const last = byEnd.slice(-window);
  const rate = (part: readonly { endedAt: number }[], from: number) => {
    const span = (part.at(-1)?.endedAt ?? from) - from;
    return span > 0 ? (part.length * 1000) / span : 0;
  };
  // The last window's rate runs from the end of the saga just before it.
  const beforeLast = byEnd[byEnd.length - window - 1]?.endedAt ?? started;
  const firstPerSec = rate(first, started);
  const lastPerSec = rate(last, beforeLast);
  const p50 = (part: readonly { latencyMs: number }[]) =>
    percentile(
      part.map((d) => d.latencyMs).sort((a, b) => a - b),
      50,
    );
  const round = (x: number) => Number(x.toFixed(2));
  return {
    sagas,
    ended: done.length,
    inFlight,
    window,
    firstPerSec: round(firstPerSec),
    lastPerSec: round(lastPerSec),
    lastVsFirst: firstPerSec > 0 ? Number((lastPerSec / firstPerSec).toFixed(3)) : 0,
    firstP50Ms: p50(first),
    lastP50Ms: p50(last),
    durationSec: Math.round((Date.now() - started) / 1000),
  };
}
