import { Command, CommanderError, Option } from 'commander';
import { AdminClient, CliError, exitCodes } from './admin-client.js';
import { table, timeline } from './output.js';

/** Where the CLI writes and what it reads, so that tests can run it in process too. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
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
    .description('Inspect and operate sagas through the sagaflow admin API.')
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
    if (value !== undefined && (name === 'SAGAFLOW_ADMIN_URL' || name === 'ADMIN_TOKEN')) {
      process.env[name] = value;
    }
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
    .description('publish dead letters again to the topic they came from')
    .argument('<ids...>', 'dead-letter ids')
    .action(async (ids: string[]) => {
      const { api, json } = client();
      const results: unknown[] = [];
      for (const [i, id] of ids.entries()) {
        results.push(await api.post(`/dead-letters/${encodeURIComponent(id)}/replay`, {}));
        // Progress on stderr, so that stdout stays the result.
        if (ids.length > 1) io.err(`\rreplayed ${i + 1}/${ids.length}`);
      }
      if (ids.length > 1) io.err('\n');
      print(json, results, () => `replayed ${ids.length} dead letter(s)\n`);
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
    io.err(`sagaflow: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodes.failed;
  }
}
