import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { infraUp, loadInfraConfig } from '@sagaflow/infra-local';
import {
  referenceNames,
  startReferenceProcesses,
  type ReferenceInstance,
  type ReferenceProcesses,
} from '@sagaflow/reference';
import { eventsTopic } from '@sagaflow/core';
import { startBaseline } from './baseline/start.js';
import { childrenRssMiB, rssMiB } from './children.js';
import { dbosVersion, startDbos } from './peers/dbos.js';
import type { PeerSystem } from './peers/postgres-peer.js';
import { postgresVersion } from './peers/postgres.js';
import { restateVersion, startRestate, type RestateSystem } from './peers/restate.js';
import { startTemporal, temporalVersions } from './peers/temporal.js';
import { measureRecovery, type RecoveryResult } from './recovery.js';
import { awaitTracker, measureBurst, type BurstResult } from './burst.js';
import { runSoak, type SoakResult } from './soak.js';
import { openLoop, type BenchOrder, type LoadTarget, type StepResult } from './load.js';
import { SagaOutcomes, type HopFigures } from './outcomes.js';
import { stepCounts } from './steps/domain.js';
import { startSteps } from './steps/start.js';
import { perSaga, scrapeUsage, trackerLagMs, type UsagePerSaga } from './usage.js';
import { lengthGrowth, markdown, median, svgChart, type ScenarioResult } from './report.js';

const require = createRequire(import.meta.url);
const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(benchDir, '..');
const usage = `Usage: pnpm bench [--quick | --smoke] [--runs N]

  --quick   one short run per scenario (under 5 minutes), Temporal left out: checks that
            the benchmark works
  --smoke   --quick with the shortest steps that still run every scenario end to end,
            Temporal's too (the test suite's check of the benchmark; its figures mean little)
  --runs N  runs per scenario; figures are medians over them (default 3, 1 with --quick)
  --only A,B  only these scenarios (names as in the results, 'recovery' or 'soak'); ratios
            need both. The soak (20,000 choreography sagas back to back) is in a full run,
            and in --quick or --smoke only when named here (2,000 and 300 sagas)
  --out DIR   write the results there instead of bench/results (and no latest.* copy)

Runs on KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL if set, otherwise on the local
servers of 'pnpm infra:up' (started if needed). Writes bench/results/<time>.json, .md and .svg,
and copies them to bench/results/latest.*.`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${usage}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const smoke = args.smoke;
const runs = Number(args.runs ?? (args.quick || smoke ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
  fail(`--runs must be an integer from 1 to 20 (got '${args.runs}')`);
}
const quick = args.quick || smoke;
/** A setting's value in --smoke, in --quick, and in a full run. */
const byMode = <T>(values: { readonly smoke: T; readonly quick: T; readonly full: T }): T =>
  smoke ? values.smoke : quick ? values.quick : values.full;
const settings = {
  quick,
  runs,
  /** Offered rates of the saturation search, orders per second. */
  rates: byMode({
    smoke: [2, 8],
    quick: [8, 32, 128],
    full: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
  }),
  stepMs: byMode({ smoke: 2_000, quick: 4_000, full: 10_000 }),
  /**
   * The longest wait, after a step's orders are placed, for their sagas to end (the wait ends as
   * soon as they all have). --smoke checks that every saga of its first step ends, beside the
   * rest of the test suite on a busy machine: its wait is as long as a full run's.
   */
  drainMs: byMode({ smoke: 30_000, quick: 15_000, full: 30_000 }),
  /**
   * After the saturation search, the longest wait for the backlog of its overload step to clear
   * before latency is measured at 50% and 90% (a latency step must not start behind it).
   */
  settleMs: byMode({ smoke: 8_000, quick: 20_000, full: 90_000 }),
  /** Recovery: steady load before and after a SIGKILL of the inventory participant. */
  recovery: byMode({
    smoke: { ratePerSec: 2, beforeMs: 3_000, afterMs: 6_000 },
    quick: { ratePerSec: 2, beforeMs: 5_000, afterMs: 12_000 },
    full: { ratePerSec: 2, beforeMs: 20_000, afterMs: 40_000 },
  }),
  /**
   * Growth: the choreography again with these partition counts, and with two processes of each
   * participant service sharing four outbox shards (`choreography-x2`), one run each (not in
   * --quick).
   */
  growthPartitions: quick ? [] : [1, 6],
  /**
   * Growth by saga length: a workflow of this many steps (each one durable state change) on
   * sagaflow's orchestration, Restate and DBOS, one run each.
   */
  growthSteps: quick ? [4] : [...stepCounts],
  /**
   * Orders of the burst after the latency steps, where the system has a saga tracker (how fast
   * the admin catches up); none in --quick, a small one in --smoke.
   */
  burstOrders: byMode({ smoke: 20, quick: 0, full: 300 }),
  /**
   * The soak (choreography, sagas back to back): in a full run and with `--only soak`, never
   * otherwise in --quick or --smoke; shorter there.
   */
  soak: byMode({
    smoke: { sagas: 300, window: 50, inFlight: 16 },
    quick: { sagas: 2_000, window: 200, inFlight: 32 },
    full: { sagas: 20_000, window: 2_000, inFlight: 32 },
  }),
  /** One order in ten is refused for credit: its saga takes the compensation path. */
  compensationShare: 0.1,
  partitions: 3,
};

const say = (line: string) => process.stdout.write(`${line}\n`);

async function servers() {
  const given = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URL'].every(
    (v) => (process.env[v] ?? '') !== '',
  );
  if (given) {
    return {
      kafkaBrokers: process.env['KAFKA_BROKERS']!.split(','),
      schemaRegistryUrl: process.env['SCHEMA_REGISTRY_URL']!,
      mongodbUrl: process.env['MONGODB_URL']!,
      backend: 'given by the environment',
    };
  }
  const config = loadInfraConfig();
  const up = await infraUp(config, (m) => say(`  ${m}`));
  return {
    kafkaBrokers: up.env.KAFKA_BROKERS.split(','),
    schemaRegistryUrl: up.env.SCHEMA_REGISTRY_URL,
    mongodbUrl: up.env.MONGODB_URL,
    backend: `FerretDB ${config.database.version} on ${config.database.backend}, Kafka ${config.kafka.version}, Apicurio Registry ${config.registry.version}`,
  };
}

/** A system under test, started afresh for each run of a scenario. */
interface Started {
  readonly target: LoadTarget;
  /** Resident memory of each process at the moment, MiB. */
  readonly rss?: () => Promise<Record<string, number>>;
  /** The saga's hops as seen on the topics. */
  readonly hops?: SagaOutcomes;
  /** Base URLs of processes whose `/metrics` count round trips and CPU. @default none */
  readonly metricsUrls?: () => Readonly<Record<string, string>>;
  /** Bearer token for `/metrics` where asked (the admin's). @default none */
  readonly metricsToken?: string;
  /** Consumer group of the admin's saga tracker, for the burst. @default none (no burst) */
  readonly trackerGroupId?: string;
  /** Processes to SIGKILL if the benchmark dies without stopping the system. @default none */
  readonly pids?: () => readonly (number | undefined)[];
  /** SIGKILLs the inventory participant, which is then restarted. */
  readonly killInventory?: () => Promise<void>;
  stop(): Promise<void>;
}

const stockOf = () => Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`sku-${i}`, 1e9]));
const creditOf = () => ({
  ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c-${i}`, 1e12])),
  poor: 0,
});

/** The n-th order: one SKU of twenty; one in ten for the customer without credit. */
const nthOrder = (n: number): BenchOrder => ({
  customerId: n % Math.round(1 / settings.compensationShare) === 0 ? 'poor' : `c-${n % 20}`,
  items: [{ sku: `sku-${n % 20}`, quantity: 1, unitPrice: 100 }],
});

/** Systems started and not yet stopped: their processes die with the benchmark. */
const live = new Set<Started>();
process.once('exit', () => {
  for (const system of live) {
    for (const pid of system.pids?.() ?? []) {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  }
});

/** Starts a system and keeps it in {@link live} until it is stopped. */
async function launch(start: () => Promise<Started>): Promise<Started> {
  const system = await start();
  live.add(system);
  return {
    ...system,
    stop: async () => {
      await system.stop();
      live.delete(system);
    },
  };
}

/**
 * One scenario: per run, a fresh system; the saturation search (offered rates rising until the
 * sagas ended per second fall below 80% of the offer), then latency at 50% and 90% of it.
 */
async function scenario(
  name: string,
  start: () => Promise<Started>,
  runCount = runs,
): Promise<ScenarioResult> {
  const measured: { steps: StepResult[]; saturationPerSec: number }[] = [];
  const at50: StepResult[] = [];
  const at90: StepResult[] = [];
  const rss: Record<string, number>[] = [];
  const hops: HopFigures[] = [];
  const usage: UsagePerSaga[] = [];
  const trackerLags: number[] = [];
  const bursts: BurstResult[] = [];
  for (let run = 1; run <= runCount; run++) {
    const system = await launch(start);
    try {
      let n = 0;
      const placed: string[] = [];
      const step = (ratePerSec: number, durationMs: number) =>
        openLoop({
          target: system.target,
          ratePerSec,
          durationMs,
          drainMs: settings.drainMs,
          order: () => nthOrder((n += 1)),
          onPlaced: (id) => placed.push(id),
        });
      const steps: StepResult[] = [];
      const stepUsage: (UsagePerSaga | undefined)[] = [];
      const scrape = async () =>
        system.metricsUrls === undefined
          ? undefined
          : await scrapeUsage(system.metricsUrls(), system.metricsToken);
      for (const rate of settings.rates) {
        const sampling = system.rss === undefined ? undefined : sampleRss(system.rss);
        const before = await scrape();
        const result = await step(rate, settings.stepMs);
        const after = await scrape();
        const peak = await sampling?.stop();
        if (peak !== undefined) rss.push(peak);
        steps.push(result);
        const used =
          before === undefined || after === undefined
            ? undefined
            : perSaga(before, after, result.ended);
        stepUsage.push(used);
        const trips =
          used === undefined
            ? ''
            : `; per saga ${used.roundTripsPerSaga.db} db + ${used.roundTripsPerSaga.kafka} kafka round trips`;
        say(
          `  ${name} run ${run}: offered ${rate}/s → ${result.throughputPerSec.toFixed(2)} sagas/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (${result.ended}/${result.placed} ended, ${result.failed} refused${trips})`,
        );
        if (result.throughputPerSec < 0.8 * rate) break;
      }
      const saturationPerSec = Math.max(...steps.map((s) => s.throughputPerSec));
      // Cost per saga at saturation: over the step that ended the most sagas per second.
      const atSaturation =
        stepUsage[steps.findIndex((s) => s.throughputPerSec === saturationPerSec)];
      if (atSaturation !== undefined) usage.push(atSaturation);
      measured.push({ steps, saturationPerSec });
      await system.target.outcomes.waitFor(placed, settings.settleMs);
      // The tracker too: its lag at 50% must not count the overload step's backlog.
      if (system.trackerGroupId !== undefined) {
        const waited = await awaitTracker({
          brokers: where.kafkaBrokers,
          trackerGroupId: system.trackerGroupId,
          timeoutMs: settings.settleMs,
        });
        say(
          `  ${name} run ${run}: the tracker ${waited === undefined ? `was still behind after ${settings.settleMs} ms` : `caught up ${waited} ms after the sagas had ended`}`,
        );
      }
      for (const [share, into] of [
        [0.5, at50],
        [0.9, at90],
      ] as const) {
        if (share === 0.5) system.hops?.clearHops();
        const before = share === 0.5 ? await scrape() : undefined;
        const result = await step(Math.max(0.2, share * saturationPerSec), settings.stepMs);
        if (share === 0.5 && system.hops !== undefined) hops.push(system.hops.hops());
        const after = before === undefined ? undefined : await scrape();
        const lag = after === undefined ? undefined : trackerLagMs(before!, after, 0.99);
        if (lag !== undefined) trackerLags.push(lag);
        into.push(result);
        say(
          `  ${name} run ${run}: at ${share * 100}% (${result.offeredPerSec.toFixed(2)}/s) p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms`,
        );
      }
      if (settings.burstOrders > 0 && system.trackerGroupId !== undefined) {
        await system.target.outcomes.waitFor(placed, settings.settleMs);
        const burst = await measureBurst({
          target: system.target,
          brokers: where.kafkaBrokers,
          trackerGroupId: system.trackerGroupId,
          count: settings.burstOrders,
          order: () => nthOrder((n += 1)),
          timeoutMs: 180_000,
          catchUpMs: 60_000,
        });
        bursts.push(burst);
        say(
          `  ${name} run ${run}: burst of ${burst.orders} orders: ${burst.ended} ended ${burst.drainMs} ms after the first was placed; the tracker caught up ${burst.trackerCaughtUpMs === undefined ? 'not within 60 s' : `${burst.trackerCaughtUpMs} ms`} after the last saga ended`,
        );
      }
    } finally {
      await system.stop();
    }
  }
  return {
    name,
    throughputPerSec: median(measured.map((m) => m.saturationPerSec)),
    p50Ms: median(at50.map((s) => s.p50Ms)),
    p95Ms: median(at50.map((s) => s.p95Ms)),
    p99Ms: median(at50.map((s) => s.p99Ms)),
    at90: {
      p50Ms: median(at90.map((s) => s.p50Ms)),
      p95Ms: median(at90.map((s) => s.p95Ms)),
      p99Ms: median(at90.map((s) => s.p99Ms)),
    },
    peakRssMiB: peakOf(rss),
    hopsAt50: hops.length === 0 ? undefined : medianHops(hops),
    ...(trackerLags.length === 0 ? {} : { trackerLagP99MsAt50: median(trackerLags) }),
    ...(bursts.length === 0 ? {} : { burst: medianBurst(bursts) }),
    ...(usage.length === 0 ? {} : medianUsage(usage)),
    runs: measured,
  };
}

/** Samples resident memory every second until stopped; the peak per process. */
function sampleRss(read: () => Promise<Record<string, number>>) {
  const peak: Record<string, number> = {};
  const take = async () => {
    for (const [k, v] of Object.entries(await read())) {
      if (!Number.isNaN(v)) peak[k] = Math.max(peak[k] ?? 0, v);
    }
  };
  const timer = setInterval(() => void take(), 1000);
  return {
    stop: async () => {
      clearInterval(timer);
      await take();
      return peak;
    },
  };
}

const peakOf = (samples: readonly Record<string, number>[]) => {
  const peak: Record<string, number> = {};
  for (const s of samples)
    for (const [k, v] of Object.entries(s)) peak[k] = Math.max(peak[k] ?? 0, v);
  return peak;
};

const medianUsage = (all: readonly UsagePerSaga[]): UsagePerSaga => ({
  roundTripsPerSaga: {
    db: median(all.map((u) => u.roundTripsPerSaga.db)),
    kafka: median(all.map((u) => u.roundTripsPerSaga.kafka)),
    transactions: median(all.map((u) => u.roundTripsPerSaga.transactions)),
  },
  cpuMsPerSaga: Object.fromEntries(
    Object.keys(all[0]?.cpuMsPerSaga ?? {}).map((p) => [
      p,
      median(all.map((u) => u.cpuMsPerSaga[p] ?? Number.NaN)),
    ]),
  ),
  roundTripsByProcess: Object.fromEntries(
    Object.keys(all[0]?.roundTripsByProcess ?? {}).map((p) => [
      p,
      {
        db: median(all.map((u) => u.roundTripsByProcess[p]?.db ?? Number.NaN)),
        kafka: median(all.map((u) => u.roundTripsByProcess[p]?.kafka ?? Number.NaN)),
        transactions: median(all.map((u) => u.roundTripsByProcess[p]?.transactions ?? Number.NaN)),
      },
    ]),
  ),
  roundTripsByOperation: Object.fromEntries(
    Object.keys(all[0]?.roundTripsByOperation ?? {}).map((k) => [
      k,
      median(all.map((u) => u.roundTripsByOperation[k] ?? 0)),
    ]),
  ),
});

/** Medians over runs; a tracker that did not catch up in a run counts as the longest. */
const medianBurst = (all: readonly BurstResult[]): BurstResult => {
  const caughtUp = all.map((b) => b.trackerCaughtUpMs ?? Number.POSITIVE_INFINITY);
  const middle = median(caughtUp);
  return {
    orders: all[0]?.orders ?? 0,
    ended: median(all.map((b) => b.ended)),
    drainMs: median(all.map((b) => b.drainMs)),
    trackerCaughtUpMs: Number.isFinite(middle) ? middle : undefined,
  };
};

const medianHops = (all: readonly HopFigures[]): HopFigures => ({
  relayP50Ms: median(all.map((h) => h.relayP50Ms)),
  pickupP50Ms: median(all.map((h) => h.pickupP50Ms)),
  hopP50Ms: median(all.map((h) => h.hopP50Ms)),
  byPairP50Ms: Object.fromEntries(
    Object.keys(all[0]?.byPairP50Ms ?? {}).map((pair) => [
      pair,
      median(all.map((h) => h.byPairP50Ms[pair] ?? Number.NaN)),
    ]),
  ),
});

/** Peers: the same workflow on another engine (or the N-step workflow of `steps` steps). */
const peerSystem =
  (
    start: (o: {
      logRoot: string;
      stock: Record<string, number>;
      credit: Record<string, number>;
    }) => Promise<RestateSystem | PeerSystem>,
    steps?: number,
  ) =>
  async (): Promise<Started> => {
    const system = await start({ logRoot, stock: stockOf(), credit: creditOf() });
    return {
      target: steps === undefined ? system : system.steps(steps),
      rss: () => childrenRssMiB(system.children),
      stop: () => system.stop(),
    };
  };

const logRoot = path.join(repoRoot, '.sagaflow', 'bench-logs');

/**
 * The reference system in one mode, six processes; with replicas, that many processes of each
 * participant service, sharing their work and their outbox shards.
 */
const sagaflowSystem =
  (
    where: Awaited<ReturnType<typeof servers>>,
    mode: 'choreography' | 'orchestration',
    env: NodeJS.ProcessEnv = {},
    replicas = 1,
  ) =>
  async (): Promise<Started> => {
    const system: ReferenceProcesses = await startReferenceProcesses(where, {
      logRoot,
      env: { SAGAFLOW_PARTITIONS: String(settings.partitions), ...env },
      replicas,
    });
    const names = referenceNames(system.namespace);
    const outcomes = new SagaOutcomes(where.kafkaBrokers, `${system.namespace}-bench`);
    const stopAll = async () => {
      await outcomes.stop().catch(() => {});
      await system.stop();
    };
    try {
      await outcomes.start(
        [names.shipment, names.order, names.reservation, names.customer].map(eventsTopic),
      );
      for (const [sku, available] of Object.entries(stockOf()))
        await system.client.setStock(sku, available);
      for (const [customerId, limit] of Object.entries(creditOf()))
        await system.client.setCredit(customerId, limit);
    } catch (error) {
      await stopAll();
      throw error;
    }
    const pidOf = (i: ReferenceInstance) => system.supervisor.pid(i.service, i.replica);
    let next = 0;
    return {
      pids: () => system.instances.map(pidOf),
      metricsUrls: () => Object.fromEntries(system.instances.map((i) => [i.name, i.url])),
      metricsToken: system.adminToken,
      trackerGroupId: `${names.service('admin')}.tracker`,
      hops: outcomes,
      killInventory: () => system.supervisor.kill('inventory', 'SIGKILL'),
      target: {
        outcomes,
        // Orders go to the replicas of the order service in turn.
        place: async (order) =>
          (await system.clients[next++ % system.clients.length]!.placeOrder({ ...order, mode }))
            .orderId,
      },
      rss: async () =>
        Object.fromEntries(
          await Promise.all(
            system.instances.map(async (i) => [i.name, await rssMiB(pidOf(i))] as const),
          ),
        ),
      stop: stopAll,
    };
  };

/** The N-step workflow on sagaflow's orchestration: a participant and an orchestrator. */
const stepsSystem =
  (where: Awaited<ReturnType<typeof servers>>, steps: number) => async (): Promise<Started> => {
    const system = await startSteps({ ...where, partitions: settings.partitions, logRoot });
    return {
      target: system.target(steps),
      hops: system.outcomes,
      metricsUrls: () => system.urls,
      pids: () => system.children.map((c) => c.process.pid),
      rss: () => childrenRssMiB(system.children),
      stop: () => system.stop(),
    };
  };

/** The hand-written baseline, four processes. */
const baselineSystem =
  (where: Awaited<ReturnType<typeof servers>>) => async (): Promise<Started> => {
    const baseline = await startBaseline({
      kafkaBrokers: where.kafkaBrokers,
      mongodbUrl: where.mongodbUrl,
      partitions: settings.partitions,
      logRoot,
      stock: stockOf(),
      credit: creditOf(),
    });
    return {
      target: baseline,
      hops: baseline.outcomes,
      killInventory: () => baseline.kill('inventory'),
      rss: () => childrenRssMiB(baseline.children),
      stop: () => baseline.stop(),
    };
  };

const started = Date.now();
say('Servers…');
const where = await servers();
const scenarios: ScenarioResult[] = [];
/**
 * Temporal's scenarios, left out of --quick: with them it took 367 s on 2 cores, past its
 * 5 minutes (its worker bundles its workflows at each start). --smoke keeps them.
 */
const temporalPlan = (
  entry: [string, () => Promise<Started>, number],
): [string, () => Promise<Started>, number][] => (args.quick && !smoke ? [] : [entry]);
/** Each scenario: its name, how to start its system, and its number of runs. */
const plan: [string, () => Promise<Started>, number][] = [
  ['choreography', sagaflowSystem(where, 'choreography'), runs],
  ['baseline', baselineSystem(where), runs],
  ['orchestration', sagaflowSystem(where, 'orchestration'), runs],
  ['restate', peerSystem(startRestate), runs],
  ['dbos', peerSystem(startDbos), runs],
  ...temporalPlan(['temporal', peerSystem(startTemporal), runs]),
  // Growth: the choreography with other partition counts (topics and consumers), one run each.
  ...settings.growthPartitions.map(
    (p) =>
      [
        `choreography-p${p}`,
        sagaflowSystem(where, 'choreography', { SAGAFLOW_PARTITIONS: String(p) }),
        1,
      ] as [string, () => Promise<Started>, number],
  ),
  ...(quick
    ? []
    : [
        ['choreography-x2', sagaflowSystem(where, 'choreography', {}, 2), 1] as [
          string,
          () => Promise<Started>,
          number,
        ],
      ]),
];
// Growth by saga length, one run each: sagaflow's orchestration, Restate, DBOS, Temporal.
for (const steps of settings.growthSteps) {
  plan.push(
    [`orchestration-steps-${steps}`, stepsSystem(where, steps), 1],
    [`restate-steps-${steps}`, peerSystem(startRestate, steps), 1],
    [`dbos-steps-${steps}`, peerSystem(startDbos, steps), 1],
    ...temporalPlan([`temporal-steps-${steps}`, peerSystem(startTemporal, steps), 1]),
  );
}
const recoveryPlan: [string, () => Promise<Started>][] = [
  ['choreography', sagaflowSystem(where, 'choreography')],
  ['baseline', baselineSystem(where)],
];
const only = args.only?.split(',').map((s) => s.trim());
const known = [...plan.map(([n]) => n), 'recovery', 'soak'];
const unknown = only?.filter((n) => !known.includes(n)) ?? [];
if (unknown.length > 0) {
  fail(`--only names unknown scenarios: ${unknown.join(', ')} (known: ${known.join(', ')})`);
}
const wanted = (name: string) => only === undefined || only.includes(name);
for (const [name, start, runCount] of plan.filter(([n]) => wanted(n))) {
  say(`Scenario ${name}…`);
  scenarios.push(await scenario(name, start, runCount));
}
const recoveries: (RecoveryResult & { name: string })[] = [];
if (wanted('recovery')) {
  for (const [name, start] of recoveryPlan) {
    say(`Recovery ${name}…`);
    const system = await launch(start);
    try {
      let n = 0;
      const result = await measureRecovery({
        target: system.target,
        killed: 'inventory',
        kill: async () => {
          if (system.killInventory === undefined) throw new Error(`${name} cannot kill a service`);
          await system.killInventory();
        },
        ...settings.recovery,
        drainMs: settings.drainMs * 2,
        order: () => nthOrder((n += 1)),
      });
      recoveries.push({ name, ...result });
      say(
        `  ${name}: first completed saga ${result.firstCompletedAfterKillMs} ms after the SIGKILL; p99 ${result.before.p99Ms} ms before, ${result.after.p99Ms} ms after (max ${result.after.maxMs} ms); ${result.unfinished} unfinished`,
      );
    } finally {
      await system.stop();
    }
  }
}
let soak: SoakResult | undefined;
if (only === undefined ? !quick : only.includes('soak')) {
  say(`Soak: ${settings.soak.sagas} choreography sagas back to back…`);
  const system = await launch(sagaflowSystem(where, 'choreography'));
  try {
    const sampling = system.rss === undefined ? undefined : sampleRss(system.rss);
    const result = await runSoak({
      target: system.target,
      ...settings.soak,
      order: nthOrder,
      sagaTimeoutMs: 120_000,
      progress: (ended) => say(`  soak: ${ended} sagas ended`),
    });
    const peakRssMiB = await sampling?.stop();
    soak = { ...result, ...(peakRssMiB === undefined ? {} : { peakRssMiB }) };
    say(
      `  soak: ${soak.ended}/${soak.sagas} ended in ${soak.durationSec} s; first ${soak.window}: ${soak.firstPerSec} sagas/s (p50 ${soak.firstP50Ms} ms), last ${soak.window}: ${soak.lastPerSec} sagas/s (p50 ${soak.lastP50Ms} ms), last ÷ first ${soak.lastVsFirst}`,
    );
  } finally {
    await system.stop();
  }
}
const find = (name: string) => scenarios.find((s) => s.name === name);
/** a's figure divided by b's, when both were measured in this run. */
const ratio = (a: string, b: string, figure: 'throughputPerSec' | 'p99Ms') => {
  const x = find(a)?.[figure];
  const y = find(b)?.[figure];
  return x === undefined || y === undefined || !(y > 0) ? null : Number((x / y).toFixed(3));
};
const rootPackage = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
  packageManager?: string;
};
const temporal = await temporalVersions();
const results = {
  startedAt: new Date(started).toISOString(),
  durationSec: Math.round((Date.now() - started) / 1000),
  machine: {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
  },
  versions: {
    node: process.version,
    packageManager: rootPackage.packageManager,
    servers: where.backend,
    kafkajs: (require('kafkajs/package.json') as { version: string }).version,
    restateServer: restateVersion(),
    restateSdk: (require('@restatedev/restate-sdk/package.json') as { version: string }).version,
    dbosSdk: dbosVersion(),
    dbosDatabase: `PostgreSQL ${postgresVersion()} (Debian), fsync and synchronous commit on`,
    temporalServer: `${temporal.server} (its CLI's development server on SQLite)`,
    temporalSdk: temporal.sdk,
    temporalDatabase: `PostgreSQL ${postgresVersion()} (Debian) for the activities' tables`,
  },
  settings,
  scenarios,
  recovery: recoveries,
  ...(soak === undefined ? {} : { soak }),
  /**
   * sagaflow's throughput divided by the others', measured in this run (null when a side was not
   * run): the choreography against the hand-written baseline (the same flow), the orchestration
   * against Restate, DBOS and Temporal (the same workflow); and the same for p99 latency at 50%
   * load.
   */
  ratios: {
    vsBaseline: ratio('choreography', 'baseline', 'throughputPerSec'),
    vsRestate: ratio('orchestration', 'restate', 'throughputPerSec'),
    vsDbos: ratio('orchestration', 'dbos', 'throughputPerSec'),
    vsTemporal: ratio('orchestration', 'temporal', 'throughputPerSec'),
    p99VsBaseline: ratio('choreography', 'baseline', 'p99Ms'),
    p99VsRestate: ratio('orchestration', 'restate', 'p99Ms'),
    p99VsDbos: ratio('orchestration', 'dbos', 'p99Ms'),
    p99VsTemporal: ratio('orchestration', 'temporal', 'p99Ms'),
  },
  /** The N-step workflow by engine and length: steps per second, latency per step. */
  growthBySteps: lengthGrowth(scenarios),
};
const resultsDir = args.out === undefined ? path.join(benchDir, 'results') : path.resolve(args.out);
await mkdir(resultsDir, { recursive: true });
const stamp = results.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
const json = `${JSON.stringify(results, null, 2)}\n`;
const md = markdown(results);
const svg = svgChart(scenarios);
for (const base of args.out === undefined ? [stamp, 'latest'] : [stamp]) {
  await writeFile(path.join(resultsDir, `${base}.json`), json);
  await writeFile(path.join(resultsDir, `${base}.md`), md);
  await writeFile(path.join(resultsDir, `${base}.svg`), svg);
}
say('');
say(md);
say(
  `Written: ${path.relative(process.cwd(), path.join(resultsDir, stamp))}.{json,md,svg}${args.out === undefined ? ' (and latest.*)' : ''} in ${results.durationSec} s`,
);
process.exit(0);
