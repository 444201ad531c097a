import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { infraUp, loadInfraConfig } from '@sagaflow/infra-local';
import {
  referenceNames,
  startReferenceProcesses,
  type NewOrder,
  type ReferenceProcesses,
} from '@sagaflow/reference';
import { eventsTopic } from '@sagaflow/core';
import { openLoop, type StepResult } from './load.js';
import { SagaOutcomes } from './outcomes.js';
import { markdown, median, svgChart, type ScenarioResult } from './report.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(benchDir, '..');
const usage = `Usage: pnpm bench [--quick] [--runs N]

  --quick   one short run per scenario (a few minutes): checks that the benchmark works
  --runs N  runs per scenario; figures are medians over them (default 3, 1 with --quick)

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
      runs: { type: 'string' },
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
const runs = Number(args.runs ?? (args.quick ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
  fail(`--runs must be an integer from 1 to 20 (got '${args.runs}')`);
}
const quick = args.quick;
const settings = {
  quick,
  runs,
  /** Offered rates of the saturation search, orders per second. */
  rates: quick ? [1, 2, 4] : [1, 2, 4, 8, 16, 32],
  stepMs: quick ? 10_000 : 30_000,
  drainMs: quick ? 30_000 : 60_000,
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

/** The order flow in one mode: saturation search, then latency at 50% and 90% of it. */
async function sagaflowScenario(
  name: string,
  mode: 'choreography' | 'orchestration',
  where: Awaited<ReturnType<typeof servers>>,
): Promise<ScenarioResult> {
  const measured: { steps: StepResult[]; saturationPerSec: number }[] = [];
  const at50: StepResult[] = [];
  const at90: StepResult[] = [];
  for (let run = 1; run <= runs; run++) {
    const system: ReferenceProcesses = await startReferenceProcesses(where, {
      logRoot: path.join(repoRoot, '.sagaflow', 'bench-logs'),
      env: { SAGAFLOW_PARTITIONS: String(settings.partitions) },
    });
    const names = referenceNames(system.namespace);
    const outcomes = new SagaOutcomes(where.kafkaBrokers, `${system.namespace}-bench`);
    try {
      await outcomes.start({
        shipments: eventsTopic(names.shipment),
        orders: eventsTopic(names.order),
      });
      for (let i = 0; i < 20; i++) await system.client.setStock(`sku-${i}`, 1_000_000_000);
      for (let i = 0; i < 20; i++) await system.client.setCredit(`c-${i}`, 1_000_000_000_000);
      await system.client.setCredit('poor', 0);
      let n = 0;
      const order = (): NewOrder => {
        n += 1;
        return {
          customerId: n % Math.round(1 / settings.compensationShare) === 0 ? 'poor' : `c-${n % 20}`,
          items: [{ sku: `sku-${n % 20}`, quantity: 1, unitPrice: 100 }],
          mode,
        };
      };
      const step = (ratePerSec: number, durationMs: number) =>
        openLoop({
          client: system.client,
          outcomes,
          ratePerSec,
          durationMs,
          drainMs: settings.drainMs,
          order,
        });
      const steps: StepResult[] = [];
      for (const rate of settings.rates) {
        const result = await step(rate, settings.stepMs);
        steps.push(result);
        say(
          `  ${name} run ${run}: offered ${rate}/s → ${result.throughputPerSec.toFixed(2)} sagas/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (${result.ended}/${result.placed} ended)`,
        );
        if (result.throughputPerSec < 0.8 * rate) break;
      }
      const saturationPerSec = Math.max(...steps.map((s) => s.throughputPerSec));
      measured.push({ steps, saturationPerSec });
      for (const [share, into] of [
        [0.5, at50],
        [0.9, at90],
      ] as const) {
        const result = await step(Math.max(0.2, share * saturationPerSec), settings.stepMs);
        into.push(result);
        say(
          `  ${name} run ${run}: at ${share * 100}% (${result.offeredPerSec.toFixed(2)}/s) p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms`,
        );
      }
    } finally {
      await outcomes.stop().catch(() => {});
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
    runs: measured,
  };
}

const started = Date.now();
say('Servers…');
const where = await servers();
const scenarios: ScenarioResult[] = [];
for (const [name, mode] of [
  ['choreography', 'choreography'],
  ['orchestration', 'orchestration'],
] as const) {
  say(`Scenario ${name}…`);
  scenarios.push(await sagaflowScenario(name, mode, where));
}
const rootPackage = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
  packageManager?: string;
};
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
  },
  settings,
  scenarios,
  /**
   * sagaflow throughput divided by the others'. The baseline and peer scenarios are not written
   * yet: null until they are measured in the same run.
   */
  ratios: { vsBaseline: null, vsRestate: null, vsDbos: null },
};
const resultsDir = path.join(benchDir, 'results');
await mkdir(resultsDir, { recursive: true });
const stamp = results.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
const json = `${JSON.stringify(results, null, 2)}\n`;
const md = markdown(results);
const svg = svgChart(scenarios);
for (const base of [stamp, 'latest']) {
  await writeFile(path.join(resultsDir, `${base}.json`), json);
  await writeFile(path.join(resultsDir, `${base}.md`), md);
  await writeFile(path.join(resultsDir, `${base}.svg`), svg);
}
say('');
say(md);
say(`Written: bench/results/${stamp}.{json,md,svg} (and latest.*) in ${results.durationSec} s`);
process.exit(0);
