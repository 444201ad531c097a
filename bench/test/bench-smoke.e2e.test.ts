import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTsScript } from '@sagaflow/testing/node';
import { afterAll, expect, it } from 'vitest';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli.ts');
const out = mkdtempSync(path.join(os.tmpdir(), 'sagaflow-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const bench = (args: string[]) => runTsScript(cli, args);

interface Results {
  scenarios: {
    name: string;
    throughputPerSec: number;
    p50Ms: number;
    p99Ms: number;
    runs: { steps: { failed: number; placed: number; ended: number }[] }[];
    roundTripsPerSaga?: { db: number; kafka: number; transactions: number };
    cpuMsPerSaga?: Record<string, number>;
    trackerLagP99MsAt50?: number;
    roundTripsByProcess?: Record<string, { db: number; kafka: number }>;
    burst?: { orders: number; ended: number; drainMs: number; trackerCaughtUpMs?: number };
  }[];
  ratios: Record<string, number | null>;
  growthBySteps: { engine: string; lengths: { steps: number; stepsPerSec: number }[] }[];
  recovery: { name: string; firstCompletedAfterKillMs: number; unfinished: number }[];
  machine: { cores: number };
}

// --smoke: --quick's scenarios with the shortest steps; the figures of a full run are its own.
it('pnpm bench --smoke runs every scenario end to end and writes its results', async () => {
  const { code, output } = await bench(['--smoke', '--out', out]);
  expect(output, output).toMatch(/Written: /);
  expect(code, output).toBe(0);
  const files = readdirSync(out);
  for (const ext of ['json', 'md', 'svg'])
    expect(files.some((f) => f.endsWith(`.${ext}`))).toBe(true);
  const results = JSON.parse(
    readFileSync(
      path.join(
        out,
        files.find((f) => f.endsWith('.json'))!,
      ),
      'utf8',
    ),
  ) as Results;
  expect(results.scenarios.map((s) => s.name)).toEqual([
    'choreography',
    'baseline',
    'orchestration',
    'restate',
    'dbos',
    'temporal',
    'orchestration-steps-4',
    'restate-steps-4',
    'dbos-steps-4',
    'temporal-steps-4',
  ]);
  for (const s of results.scenarios) {
    expect(s.throughputPerSec, s.name).toBeGreaterThan(0);
    expect(s.p50Ms, s.name).toBeGreaterThan(0);
    expect(s.p99Ms, s.name).toBeGreaterThanOrEqual(s.p50Ms);
    // Every order was accepted and every saga of the first (unsaturated) step ended.
    for (const step of s.runs[0]!.steps) expect(step.failed, s.name).toBe(0);
    expect(s.runs[0]!.steps[0]!.ended, s.name).toBe(s.runs[0]!.steps[0]!.placed);
  }
  // sagaflow's processes count their round trips and CPU; the others' are not counted.
  for (const name of ['choreography', 'orchestration', 'orchestration-steps-4']) {
    const s = results.scenarios.find((x) => x.name === name)!;
    expect(s.roundTripsPerSaga?.db, name).toBeGreaterThan(0);
    expect(s.roundTripsPerSaga?.kafka, name).toBeGreaterThan(0);
    expect(s.roundTripsPerSaga?.transactions, name).toBeGreaterThan(0);
    expect(Object.keys(s.cpuMsPerSaga ?? {}).length, name).toBeGreaterThanOrEqual(2);
    expect(Object.keys(s.roundTripsByProcess ?? {}).sort(), name).toEqual(
      Object.keys(s.cpuMsPerSaga ?? {}).sort(),
    );
  }
  // The reference system's admin tracks every saga: its lag at 50% load is measured.
  for (const name of ['choreography', 'orchestration']) {
    const s = results.scenarios.find((x) => x.name === name)!;
    expect(s.trackerLagP99MsAt50, name).toBeGreaterThan(0);
    // A burst after the latency steps: every saga ended, and the tracker caught up.
    expect(s.burst?.orders, name).toBe(20);
    expect(s.burst?.ended, name).toBe(20);
    expect(s.burst?.trackerCaughtUpMs, name).toBeGreaterThanOrEqual(0);
  }
  expect(results.scenarios.find((x) => x.name === 'baseline')!.roundTripsPerSaga).toBeUndefined();
  for (const key of ['vsBaseline', 'vsRestate', 'vsDbos', 'vsTemporal']) {
    expect(results.ratios[key], key).toBeGreaterThan(0);
  }
  // Growth by saga length: the N-step workflow on each engine (one length in --quick and --smoke).
  expect(results.growthBySteps.map((g) => g.engine)).toEqual([
    'orchestration',
    'restate',
    'dbos',
    'temporal',
  ]);
  for (const g of results.growthBySteps) {
    expect(g.lengths.map((l) => l.steps)).toEqual([4]);
    expect(g.lengths[0]!.stepsPerSec, g.engine).toBeGreaterThan(0);
  }
  expect(results.recovery.map((r) => r.name)).toEqual(['choreography', 'baseline']);
  for (const r of results.recovery) {
    expect(r.firstCompletedAfterKillMs, r.name).toBeGreaterThan(0);
    expect(r.unfinished, r.name).toBe(0);
  }
  expect(results.machine.cores).toBeGreaterThan(0);
}, 900_000);

interface SoakResults {
  soak?: {
    sagas: number;
    ended: number;
    window: number;
    firstPerSec: number;
    lastPerSec: number;
    lastVsFirst: number;
  };
  scenarios: unknown[];
}

// The soak is left out of --smoke unless named; named, it runs its short form end to end.
it('pnpm bench --smoke --only soak runs sagas back to back and compares the last with the first', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sagaflow-bench-soak-'));
  try {
    const { code, output } = await bench(['--smoke', '--only', 'soak', '--out', dir]);
    expect(code, output).toBe(0);
    const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
    const results = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as SoakResults;
    expect(results.scenarios).toEqual([]);
    expect(results.soak?.sagas).toBe(300);
    expect(results.soak?.ended).toBe(300);
    expect(results.soak?.window).toBe(50);
    expect(results.soak?.firstPerSec).toBeGreaterThan(0);
    expect(results.soak?.lastPerSec).toBeGreaterThan(0);
    expect(results.soak?.lastVsFirst).toBeGreaterThan(0);
    expect(output).toMatch(/Soak \(choreography, 16 orders in flight\): 300 of 300 sagas ended/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);

it('refuses bad options, naming them', async () => {
  const runs = await bench(['--runs', '0']);
  expect(runs.code).toBe(2);
  expect(runs.output).toMatch(/--runs must be an integer from 1 to 20 \(got '0'\)/);
  const only = await bench(['--only', 'kafka-streams']);
  expect(only.code).toBe(2);
  expect(only.output).toMatch(/--only names unknown scenarios: kafka-streams/);
});
