import type { StepResult } from './load.js';
import type { HopFigures } from './outcomes.js';

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
  /** Every step of every run, as measured. */
  readonly runs: readonly {
    readonly steps: readonly StepResult[];
    readonly saturationPerSec: number;
  }[];
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const round = (value: number, digits = 1) => (Number.isNaN(value) ? 'n/a' : value.toFixed(digits));

/** The results as a Markdown table. */
export function markdown(results: {
  readonly machine: Record<string, unknown>;
  readonly settings: Record<string, unknown>;
  readonly scenarios: readonly ScenarioResult[];
  readonly ratios: Record<string, unknown>;
}): string {
  const lines = [
    '| scenario | sagas/s (saturation) | p50 ms @50% | p95 ms @50% | p99 ms @50% | p50 ms @90% | p99 ms @90% |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.scenarios.map(
      (s) =>
        `| ${s.name} | ${round(s.throughputPerSec, 2)} | ${round(s.p50Ms, 0)} | ${round(s.p95Ms, 0)} | ${round(s.p99Ms, 0)} | ${round(s.at90.p50Ms, 0)} | ${round(s.at90.p99Ms, 0)} |`,
    ),
  ];
  return [
    lines.join('\n'),
    '',
    `Machine: ${JSON.stringify(results.machine)}`,
    '',
    `Settings: ${JSON.stringify(results.settings)}`,
    '',
    `Ratios: ${JSON.stringify(results.ratios)}`,
    '',
  ].join('\n');
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
    const rateWidth = (300 * (s.throughputPerSec || 0)) / maxRate;
    const p99Width = (300 * (Number.isNaN(s.p99Ms) ? 0 : s.p99Ms)) / maxP99;
    return [
      `<text x="10" y="${y + 12}" font-size="12">${s.name}</text>`,
      bar(160, y, rateWidth, '#2b6cb0'),
      `<text x="${166 + rateWidth}" y="${y + 12}" font-size="11">${round(s.throughputPerSec, 2)} sagas/s</text>`,
      bar(160, y + 20, p99Width, '#c05621'),
      `<text x="${166 + p99Width}" y="${y + 32}" font-size="11">p99 ${round(s.p99Ms, 0)} ms @50%</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><text x="10" y="18" font-size="13">sagaflow: saturation throughput (blue) and p99 latency at 50% of it (orange)</text>${rows.join('')}</svg>\n`;
}
