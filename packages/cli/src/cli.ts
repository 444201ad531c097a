import path from 'node:path';
import { isSagaflowError } from '@sagaflow/core';
import { describeTopics } from '@sagaflow/kafka';
import {
  AvroSerde,
  checkCompatibility,
  loadSchemaCatalog,
  syncTypesFile,
  type Compatibility,
} from '@sagaflow/schema-registry';
import { Command, CommanderError, Option } from 'commander';
import { AdminClient, CliError, exitCodes, httpUrl } from './admin-client.js';
import { newService } from './new-service/new-service.js';
import { table, timeline } from './output.js';

/** Variables the options read (commander reads them from process.env). */
const ENV_OPTIONS = ['SAGAFLOW_ADMIN_URL', 'ADMIN_TOKEN', 'SCHEMA_REGISTRY_URL', 'KAFKA_BROKERS'];

/** The brokers of `--brokers`, checked. */
function brokerList(value: string): string[] {
  const brokers = value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const bad = brokers.find((b) => !/^[\w.-]+:\d{1,5}$/.test(b));
  if (brokers.length === 0 || bad !== undefined) {
    throw new CliError(
      `--brokers must be host:port[,host:port…] (got '${value}')`,
      exitCodes.usage,
    );
  }
  return brokers;
}

/** Where the CLI writes and what it reads, so that tests can run it in process too. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** The working folder (`sagaflow new` looks for the workspace from it). @default process.cwd() */
  readonly cwd?: string;
}

interface GlobalOptions {
  url: string;
  token?: string;
  operator?: string;
  json: boolean;
}

interface SagaSummary {
  sagaId: string;
  type?: string;
  status: string;
  businessKey?: string;
  startedAt: string;
  updatedAt: string;
  currentStep?: string;
}

const STATUSES = ['running', 'completed', 'compensating', 'compensated', 'failed', 'stuck'];

/** Runs the `sagaflow` command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command('sagaflow')
    .description(
      'Inspect and operate sagas through the sagaflow admin API; check and register schemas; describe topics.',
    )
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .addOption(
      new Option('--url <url>', 'admin API address')
        .env('SAGAFLOW_ADMIN_URL')
        .default('http://127.0.0.1:8080'),
    )
    .addOption(new Option('--token <token>', 'admin API bearer token').env('ADMIN_TOKEN'))
    .option('--operator <name>', 'who acts, recorded in the audit log')
    .option('--json', 'print JSON instead of tables', false);
  // Commander reads env from process.env: hand it the given environment.
  for (const [name, value] of Object.entries(io.env)) {
    if (value !== undefined && ENV_OPTIONS.includes(name)) process.env[name] = value;
  }
  const client = () => {
    const o = program.opts<GlobalOptions>();
    return {
      api: new AdminClient({
        url: o.url,
        ...(o.token === undefined ? {} : { token: o.token }),
        ...(o.operator === undefined ? {} : { operator: o.operator }),
      }),
      json: o.json,
    };
  };
  const print = (json: boolean, value: unknown, text: () => string) =>
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : text());

  const sagas = program.command('sagas').description('list, show and operate sagas');
  sagas
    .command('list')
    .description('sagas, newest first')
    .addOption(new Option('--status <status>', 'only this status').choices(STATUSES))
    .option('--type <type>', 'only this saga type')
    .option('--since <time>', 'started at or after (ISO-8601)')
    .option('--until <time>', 'started before (ISO-8601)')
    .option('--key <key>', 'saga id or business key')
    .option('--limit <n>', 'at most this many (1 to 500)', '50')
    .action(async (o: Record<string, string | undefined>) => {
      const { api, json } = client();
      const page = await api.get<{ sagas: SagaSummary[]; next?: string }>('/sagas', {
        status: o['status'],
        type: o['type'],
        since: o['since'],
        until: o['until'],
        q: o['key'],
        limit: o['limit'],
      });
      print(json, page, () =>
        table(
          ['SAGA', 'TYPE', 'STATUS', 'KEY', 'STEP', 'STARTED', 'UPDATED'],
          page.sagas.map((s) => [
            s.sagaId,
            s.type ?? '-',
            s.status,
            s.businessKey ?? '-',
            s.currentStep ?? '-',
            s.startedAt,
            s.updatedAt,
          ]),
        ),
      );
    });
  sagas
    .command('show')
    .description("a saga's steps and timeline")
    .argument('<id>', 'saga id')
    .action(async (id: string) => {
      const { api, json } = client();
      const view = await api.get<Parameters<typeof timeline>[0]>(
        `/sagas/${encodeURIComponent(id)}`,
      );
      print(json, view, () => timeline(view));
    });
  for (const action of ['compensate', 'retry'] as const) {
    sagas
      .command(action)
      .description(
        action === 'compensate'
          ? 'undo the completed steps of a running or stuck saga'
          : 'run a failed workflow again from its failed step',
      )
      .argument('<id>', 'saga id')
      .requiredOption('--reason <text>', 'why, recorded in the audit log')
      .action(async (id: string, o: { reason: string }) => {
        const { api, json } = client();
        const answer = await api.post<Record<string, unknown>>(
          `/sagas/${encodeURIComponent(id)}/${action}`,
          { reason: o.reason },
        );
        print(
          json,
          answer,
          () => `${action === 'compensate' ? 'compensation' : 'retry'} requested for ${id}\n`,
        );
      });
  }

  const dlq = program.command('dlq').description('dead letters');
  dlq
    .command('list')
    .description('dead letters, newest first')
    .option('--topic <topic>', 'only those from this topic')
    .option('--limit <n>', 'at most this many (1 to 500)', '50')
    .action(async (o: { topic?: string; limit: string }) => {
      const { api, json } = client();
      const page = await api.get<{
        deadLetters: {
          id: string;
          sourceTopic: string;
          reason: string;
          failedAt: string;
          replays?: unknown[];
        }[];
      }>('/dead-letters', { topic: o.topic, limit: o.limit });
      print(json, page, () =>
        table(
          ['ID', 'TOPIC', 'FAILED', 'REPLAYS', 'REASON'],
          page.deadLetters.map((d) => [
            d.id,
            d.sourceTopic,
            d.failedAt,
            String(d.replays?.length ?? 0),
            d.reason,
          ]),
        ),
      );
    });
  dlq
    .command('replay')
    .description('hand dead letters again to the consumer group that could not handle them')
    .argument('<ids...>', 'dead-letter ids')
    .requiredOption('--reason <text>', 'why, recorded in the audit log')
    .action(async (ids: string[], o: { reason: string }) => {
      const { api, json } = client();
      const results: unknown[] = [];
      for (const [i, id] of ids.entries()) {
        results.push(
          await api.post(`/dead-letters/${encodeURIComponent(id)}/replay`, { reason: o.reason }),
        );
        // Progress on stderr, so that stdout stays the result.
        if (ids.length > 1) io.err(`\rreplayed ${i + 1}/${ids.length}`);
      }
      if (ids.length > 1) io.err('\n');
      print(json, results, () => `replayed ${ids.length} dead letter(s)\n`);
    });

  const schemas = program
    .command('schemas')
    .description('check and register the Avro schemas (.avsc) with the schema registry');
  const schemaOptions = (command: Command) =>
    command
      .option('--schemas <dir>', 'folder of .avsc files, searched with its subfolders', 'schemas')
      .addOption(
        new Option('--registry <url>', 'Confluent-compatible API of the registry')
          .env('SCHEMA_REGISTRY_URL')
          .default('http://127.0.0.1:8081/apis/ccompat/v7'),
      );
  schemaOptions(
    schemas
      .command('check')
      .description(
        'whether each schema may be registered (BACKWARD compatible with the latest version); exit 1 if one may not',
      ),
  ).action(async (o: { schemas: string; registry: string }) => {
    const url = httpUrl('--registry', o.registry);
    const catalog = await loadSchemaCatalog(path.resolve(o.schemas));
    const verdicts: { subject: string; type: string; file: string; verdict: Compatibility }[] = [];
    for (const entry of catalog.entries()) {
      verdicts.push({
        subject: entry.fullName,
        type: entry.type,
        file: path.relative(process.cwd(), entry.file),
        verdict: await checkCompatibility(url, entry),
      });
    }
    print(program.opts<GlobalOptions>().json, verdicts, () =>
      table(
        ['SUBJECT', 'VERDICT', 'FILE'],
        verdicts.map((v) => [v.subject, v.verdict, v.file]),
      ),
    );
    const refused = verdicts.filter((v) => v.verdict === 'incompatible');
    if (refused.length > 0) {
      throw new CliError(
        `not BACKWARD compatible with the registered version: ${refused.map((v) => `${v.subject} (${v.file})`).join(', ')}`,
        exitCodes.failed,
      );
    }
  });
  schemaOptions(
    schemas
      .command('register')
      .description(
        'register every schema under BACKWARD compatibility (a known one keeps its version)',
      ),
  ).action(async (o: { schemas: string; registry: string }) => {
    const serde = new AvroSerde({
      registryUrl: httpUrl('--registry', o.registry),
      catalog: await loadSchemaCatalog(path.resolve(o.schemas)),
    });
    const registered = await serde.registerAll();
    print(program.opts<GlobalOptions>().json, registered, () =>
      table(
        ['SUBJECT', 'VERSION', 'ID'],
        registered.map((r) => [r.subject, String(r.version), String(r.id)]),
      ),
    );
  });

  schemaOptions(
    schemas
      .command('generate')
      .description(
        'write the TypeScript types of the schemas (one interface per record, SchemaTypes)',
      )
      .requiredOption('--out <file>', 'the TypeScript file to write')
      .option('--check', 'write nothing; exit 1 if the file is not what it would write', false),
  ).action(async (o: { schemas: string; out: string; check: boolean }) => {
    const { stale, schemas: count } = await syncTypesFile(path.resolve(o.schemas), o.out, {
      check: o.check,
    });
    if (o.check) {
      if (stale) {
        throw new CliError(
          `${o.out} is not what the schemas give: run 'sagaflow schemas generate' and commit the result`,
          exitCodes.failed,
        );
      }
      return;
    }
    io.out(`wrote ${o.out} (${count} schemas)\n`);
  });

  program
    .command('new')
    .description('start something new in the workspace')
    .command('service')
    .description(
      'write services/<name>/: an entity, a processor, their Avro schemas, main.ts and tests; then pnpm install',
    )
    .argument('<name>', 'the package and folder name, kebab-case (e.g. loyalty-points)')
    .option('--port <port>', 'its port when PORT is not set', '3100')
    .option('--no-install', 'skip pnpm install (the package is not linked until it runs)')
    .action(async (name: string, o: { port: string; install: boolean }) => {
      if (!/^\d{1,5}$/.test(o.port)) {
        throw new CliError(
          `--port must be a whole number from 1 to 65535 (got '${o.port}')`,
          exitCodes.usage,
        );
      }
      const made = await newService({
        name,
        from: io.cwd ?? process.cwd(),
        port: Number(o.port),
        install: o.install,
        log: (line) => io.err(`${line}\n`),
      });
      print(program.opts<GlobalOptions>().json, made, () =>
        [
          `made ${path.relative(made.workspace, made.dir)} (${made.files.length} files). Next:`,
          `  pnpm --filter ${name} test     # its unit and integration tests`,
          `  pnpm --filter ${name} start    # embedded; on the real servers with their env set`,
          '',
        ].join('\n'),
      );
    });

  program
    .command('topics')
    .description('Kafka topics')
    .command('describe')
    .description('partitions, end offsets and the lag of each consumer group, per topic')
    .argument('[topics...]', 'only these topics (default: all but the internal ones)')
    .option('--prefix <prefix>', 'only the topics whose name starts with it')
    .addOption(
      new Option('--brokers <list>', 'Kafka bootstrap servers, host:port[,host:port…]')
        .env('KAFKA_BROKERS')
        .default('127.0.0.1:9092'),
    )
    .action(async (topics: string[], o: { prefix?: string; brokers: string }) => {
      const described = await describeTopics({
        brokers: brokerList(o.brokers),
        ...(topics.length === 0 ? {} : { topics }),
        ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
      });
      print(program.opts<GlobalOptions>().json, described, () => {
        const rows = described.flatMap((t) => {
          const end = t.partitions.reduce((sum, p) => sum + BigInt(p.end), 0n);
          const head = [t.topic, String(t.partitions.length), String(end)];
          return t.groups.length === 0
            ? [[...head, '-', '-']]
            : t.groups.map((g, i) => [
                ...(i === 0 ? head : ['', '', '']),
                g.group,
                `${g.lag} (${g.partitions.map((p) => p.lag).join('/')})`,
              ]);
        });
        return table(['TOPIC', 'PARTITIONS', 'END', 'GROUP', 'LAG (PER PARTITION)'], rows);
      });
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; anything else commander refused is a usage error.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (error instanceof CliError) {
      io.err(`sagaflow: ${error.message}\n`);
      return error.exitCode;
    }
    if (isSagaflowError(error)) {
      io.err(`sagaflow: ${error.message}\n`);
      if (error.code === 'NOT_FOUND') return exitCodes.notFound;
      if (error.code === 'INVALID_ARGUMENT') return exitCodes.usage;
      return error.retriable ? exitCodes.unreachable : exitCodes.failed;
    }
    io.err(`sagaflow: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodes.failed;
  }
}
