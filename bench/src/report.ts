import type { RoundTripsPerSaga } from './usage.js';
import type { StepResult } from './load.js';
import type { HopFigures } from './outcomes.js';
import type { RecoveryResult } from './recovery.js';
import type { SoakResult } from './soak.js';
import type { BurstResult } from './burst.js';

/** One scenario's figures: medians over the runs. */
export interface ScenarioResult {
  readonly name: string;
  /** Saturation: the most sagas ended per second at any offered rate (median over runs). */
  readonly throughputPerSec: number;
  /** End-to-end latency at 50% of the saturation rate. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** The same at 90% of the saturation rate. */
  readonly at90: { readonly p50Ms: number; readonly p95Ms: number; readonly p99Ms: number };
  /** Peak resident memory of each process during the saturation search, MiB. */
  readonly peakRssMiB: Readonly<Record<string, number>>;
  /** Median hop times at 50% load, where the topics tell them. */
  readonly hopsAt50: HopFigures | undefined;
  /**
   * How far behind the admin's saga tracker was at 50% load: the 99th percentile of the time from
   * an event's occurrence to its saga's view being written (bucket upper bound, median over
   * runs), where a tracker runs (sagaflow's reference system).
   */
  readonly trackerLagP99MsAt50?: number;
  /**
   * Round trips per saga of all the system's processes together, over the saturation step
   * (median over runs), where the processes count them (sagaflow's).
   */
  readonly roundTripsPerSaga?: RoundTripsPerSaga;
  /** CPU milliseconds per saga of each process over the saturation step (median over runs). */
  readonly cpuMsPerSaga?: Readonly<Record<string, number>>;
  /**
   * A burst of orders on the idle system after the latency steps, where a saga tracker runs:
   * how long the sagas took and the tracker's catch-up after the last (median over runs).
   */
  readonly burst?: BurstResult;
  /** Round trips per saga of each process over the saturation step (median over runs). */
  readonly roundTripsByProcess?: Readonly<Record<string, RoundTripsPerSaga>>;
  /** Round trips per saga by `<system> <operation>` over the saturation step, most first. */
  readonly roundTripsByOperation?: Readonly<Record<string, number>>;
  /** Every step of every run, as measured. */
  readonly runs: readonly {
    readonly steps: readonly StepResult[];
    readonly saturationPerSec: number;
  }[];
}

/** Growth by saga length of one engine: its N-step scenarios, and how the cost per step moved. */
export interface LengthGrowth {
  readonly engine: string;
  readonly lengths: readonly {
    readonly steps: number;
    readonly sagasPerSec: number;
    /** Steps done per second at saturation: flat cost per step keeps this constant. */
    readonly stepsPerSec: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    /** Latency per step at 50% load (p50 ÷ steps). */
    readonly p50PerStepMs: number;
  }[];
  /** Steps per second of the longest saga ÷ that of the shortest (1 = flat cost per step). */
  readonly longVsShort: number | null;
}

/** The N-step scenarios (`<engine>-steps-<n>`) grouped by engine. */
export function lengthGrowth(scenarios: readonly ScenarioResult[]): LengthGrowth[] {
  const byEngine = new Map<string, LengthGrowth['lengths'][number][]>();
  for (const s of scenarios) {
    const match = /^(.+)-steps-(\d+)$/.exec(s.name);
    if (match === null) continue;
    const steps = Number(match[2]);
    const lengths = byEngine.get(match[1]!) ?? [];
    lengths.push({
      steps,
      sagasPerSec: s.throughputPerSec,
      stepsPerSec: Number((s.throughputPerSec * steps).toFixed(2)),
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      p50PerStepMs: Number((s.p50Ms / steps).toFixed(1)),
    });
    byEngine.set(match[1]!, lengths);
  }
  return [...byEngine].map(([engine, lengths]) => {
    const sorted = [...lengths].sort((a, b) => a.steps - b.steps);
    const [short, long] = [sorted[0]!, sorted.at(-1)!];
    return {
      engine,
      lengths: sorted,
      longVsShort:
        sorted.length < 2 || !(short.stepsPerSec > 0)
          ? null
          : Number((long.stepsPerSec / short.stepsPerSec).toFixed(3)),
    };
  });
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const round = (value: number, digits = 1) => (Number.isNaN(value) ? 'n/a' : value.toFixed(digits));

const sum = (values: Readonly<Record<string, number>>) =>
  Object.values(values).reduce((a, b) => a + b, 0);

/** The results as Markdown: scenarios, hops, memory, ratios, recovery, and the settings. */
export function markdown(results: {
  readonly machine: Record<string, unknown>;
  readonly versions: Record<string, unknown>;
  readonly settings: Record<string, unknown>;
  readonly scenarios: readonly ScenarioResult[];
  readonly recovery: readonly (RecoveryResult & { readonly name: string })[];
  readonly soak?: SoakResult;
  readonly ratios: Record<string, number | null>;
  readonly growthBySteps: readonly LengthGrowth[];
}): string {
  const table = (head: readonly string[], rows: readonly (readonly string[])[]) =>
    [
      `| ${head.join(' | ')} |`,
      `| --- | ${head
        .slice(1)
        .map(() => '---:')
        .join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  const ms = (v: number | undefined) => (v === undefined ? 'n/a' : round(v, 0));
  const parts = [
    table(
      [
        'scenario',
        'sagas/s (saturation)',
        'p50 ms @50%',
        'p95 ms @50%',
        'p99 ms @50%',
        'p50 ms @90%',
        'p99 ms @90%',
        'hop p50 ms',
        'round trips per saga (db + kafka; transactions)',
        'CPU ms per saga (all processes)',
        'peak RSS MiB (all processes)',
      ],
      results.scenarios.map((s) => [
        s.name,
        round(s.throughputPerSec, 2),
        ms(s.p50Ms),
        ms(s.p95Ms),
        ms(s.p99Ms),
        ms(s.at90.p50Ms),
        ms(s.at90.p99Ms),
        s.hopsAt50 === undefined
          ? 'n/a'
          : `${ms(s.hopsAt50.hopP50Ms)} (relay ${ms(s.hopsAt50.relayP50Ms)} + pickup ${ms(s.hopsAt50.pickupP50Ms)})`,
        s.roundTripsPerSaga === undefined
          ? 'n/a'
          : `${s.roundTripsPerSaga.db} + ${s.roundTripsPerSaga.kafka}; ${s.roundTripsPerSaga.transactions}`,
        s.cpuMsPerSaga === undefined ? 'n/a' : round(sum(s.cpuMsPerSaga), 0),
        `${round(sum(s.peakRssMiB), 0)}`,
      ]),
    ),
    '',
    ...results.scenarios
      .filter((s) => s.cpuMsPerSaga !== undefined)
      .map(
        (s) =>
          `- CPU ms per saga at saturation, ${s.name}: ${Object.entries(s.cpuMsPerSaga ?? {})
            .map(([p, v]) => {
              const trips = s.roundTripsByProcess?.[p];
              return trips === undefined
                ? `${p} ${v}`
                : `${p} ${v} (${trips.db} db + ${trips.kafka} kafka)`;
            })
            .join(', ')}`,
      ),
    ...results.scenarios
      .filter((s) => s.burst !== undefined)
      .map((s) => {
        const burst = s.burst!;
        const caught =
          burst.trackerCaughtUpMs === undefined
            ? 'had not caught up 60 s after'
            : `caught up ${ms(burst.trackerCaughtUpMs)} ms after`;
        return `- A burst of ${burst.orders} orders, ${s.name}: ${burst.ended} sagas ended within ${ms(burst.drainMs)} ms of the first order; the admin's tracker ${caught} the last one ended`;
      }),
    ...results.scenarios
      .filter((s) => s.trackerLagP99MsAt50 !== undefined)
      .map(
        (s) =>
          `- The admin's tracker at 50% load, ${s.name}: p99 lag ≤ ${ms(s.trackerLagP99MsAt50)} ms from an event to its saga's view`,
      ),
    '',
    `Ratios (sagaflow ÷ the other, same run): ${Object.entries(results.ratios)
      .map(([k, v]) => `${k} ${v === null ? 'n/a' : v.toFixed(2)}`)
      .join(', ')}`,
  ];
  if (results.growthBySteps.length > 0) {
    parts.push(
      '',
      table(
        ['growth by saga length', 'steps', 'sagas/s', 'steps/s', 'p50 ms @50%', 'p50 ms per step'],
        results.growthBySteps.flatMap((g) =>
          g.lengths.map((l) => [
            g.engine,
            String(l.steps),
            round(l.sagasPerSec, 2),
            round(l.stepsPerSec, 1),
            ms(l.p50Ms),
            round(l.p50PerStepMs, 1),
          ]),
        ),
      ),
      '',
      `Steps/s of the longest saga ÷ of the shortest (1 = flat cost per step): ${results.growthBySteps
        .map((g) => `${g.engine} ${g.longVsShort === null ? 'n/a' : g.longVsShort.toFixed(2)}`)
        .join(', ')}`,
    );
  }
  if (results.recovery.length > 0) {
    parts.push(
      '',
      table(
        [
          'recovery (SIGKILL of inventory)',
          'offered/s',
          'first completed saga after kill, ms',
          'p99 before, ms',
          'p99 after, ms',
          'max after, ms',
          'unfinished',
        ],
        results.recovery.map((r) => [
          r.name,
          round(r.offeredPerSec, 1),
          ms(r.firstCompletedAfterKillMs),
          ms(r.before.p99Ms),
          ms(r.after.p99Ms),
          ms(r.after.maxMs),
          String(r.unfinished),
        ]),
      ),
    );
  }
  const soak = results.soak;
  if (soak !== undefined) {
    parts.push(
      '',
      `Soak (choreography, ${soak.inFlight} orders in flight): ${soak.ended} of ${soak.sagas} sagas ended in ${soak.durationSec} s; the first ${soak.window} at ${soak.firstPerSec} sagas/s (p50 ${ms(soak.firstP50Ms)} ms), the last ${soak.window} at ${soak.lastPerSec} sagas/s (p50 ${ms(soak.lastP50Ms)} ms): last ÷ first ${soak.lastVsFirst}` +
        (soak.peakRssMiB === undefined
          ? ''
          : `; peak RSS ${Object.entries(soak.peakRssMiB)
              .map(([p, v]) => `${p} ${v}`)
              .join(', ')} MiB`),
    );
  }
  parts.push(
    '',
    'Peak resident memory per process (MiB): ' +
      results.scenarios
        .map(
          (s) =>
            `${s.name}: ${Object.entries(s.peakRssMiB)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`,
        )
        .join('; '),
    '',
    `Machine: ${JSON.stringify(results.machine)}`,
    '',
    `Versions: ${JSON.stringify(results.versions)}`,
    '',
    `Settings: ${JSON.stringify(results.settings)}`,
    '',
  );
  return parts.join('\n');
}

/** A bar chart (SVG) of each scenario's saturation throughput and its p99 at 50% load. */
export function svgChart(scenarios: readonly ScenarioResult[]): string {
  const width = 640;
  const rowHeight = 56;
  const height = 40 + scenarios.length * rowHeight;
  const maxRate = Math.max(1, ...scenarios.map((s) => s.throughputPerSec || 0));
  const maxP99 = Math.max(1, ...scenarios.map((s) => (Number.isNaN(s.p99Ms) ? 0 : s.p99Ms)));
  const bar = (x: number, y: number, w: number, color: string) =>
    `<rect x="${x}" y="${y}" width="${Math.max(1, w).toFixed(1)}" height="16" fill="${color}"/>`;
  const rows = scenarios.map((s, i) => {
    const y = 30 + i * rowHeight;
    // Log scales: the peers and the baseline run tens of times faster than the slowest.
    const scale = (v: number, max: number) => (300 * Math.log10(1 + v)) / Math.log10(1 + max);
    const rateWidth = scale(s.throughputPerSec || 0, maxRate);
    const p99Width = scale(Number.isNaN(s.p99Ms) ? 0 : s.p99Ms, maxP99);
    return [
      `<text x="10" y="${y + 12}" font-size="12">${s.name}</text>`,
      bar(160, y, rateWidth, '#2b6cb0'),
      `<text x="${166 + rateWidth}" y="${y + 12}" font-size="11">${round(s.throughputPerSec, 2)} sagas/s</text>`,
      bar(160, y + 20, p99Width, '#c05621'),
      `<text x="${166 + p99Width}" y="${y + 32}" font-size="11">p99 ${round(s.p99Ms, 0)} ms @50%</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><text x="10" y="18" font-size="13">Saturation throughput (blue) and p99 latency at 50% of it (orange), log scales</text>${rows.join('')}</svg>\n`;
}
