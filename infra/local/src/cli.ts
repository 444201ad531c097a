#!/usr/bin/env node
import { Command, Option } from 'commander';
import { infraEnvVars, loadInfraConfig, type InfraConfig } from './config.js';
import { InfraError } from './errors.js';
import { infraDown, infraEnv, infraStatus, infraUp, recordedBrokers } from './infra.js';

const log = (message: string) => process.stderr.write(`${message}\n`);

/**
 * The configuration from the environment, with Kafka's brokers as `--brokers` gives them, else
 * `SAGAFLOW_KAFKA_BROKERS`, else as many as the state folder's cluster was made with.
 */
async function configFor(brokers?: string): Promise<InfraConfig> {
  const env = { ...process.env };
  const variable = infraEnvVars.kafkaBrokers;
  if (brokers !== undefined) {
    env[variable] = brokers;
  } else if ((env[variable] ?? '') === '') {
    const recorded = await recordedBrokers(loadInfraConfig(env).stateDir);
    if (recorded !== undefined) env[variable] = String(recorded);
  }
  return loadInfraConfig(env);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('sagaflow-infra')
    .description(
      'Runs real Kafka (KRaft), Apicurio Registry and FerretDB as local processes on 127.0.0.1.\n' +
        'Settings come from SAGAFLOW_* environment variables (see infra/local/README.md).',
    )
    .exitOverride()
    .showHelpAfterError();
  let exitCode = 0;
  program
    .command('up')
    .description('install on first use, start, and wait until all servers answer')
    .option(
      '--brokers <n>',
      `Kafka brokers of the local KRaft cluster, 1 to 5 (also ${infraEnvVars.kafkaBrokers}); the state folder remembers it`,
    )
    .action(async (options: { brokers?: string }) => {
      const config = await configFor(options.brokers);
      const started = Date.now();
      const result = await infraUp(config, log);
      log(
        `infra up in ${((Date.now() - started) / 1000).toFixed(1)}s` +
          (result.started.length > 0 ? ` (started: ${result.started.join(', ')})` : ''),
      );
    });
  program
    .command('down')
    .description('stop the servers that up started (by pid); data is kept unless --wipe')
    .option('--wipe', 'also delete their data, logs and configuration', false)
    .action(async (options: { wipe: boolean }) => {
      await infraDown(await configFor(), { wipe: options.wipe, log });
    });
  program
    .command('status')
    .description('per server: up/down, version, port, pid (exit code 3 when one is not up)')
    .addOption(new Option('--json', 'print JSON instead of a table'))
    .action(async (options: { json?: boolean }) => {
      const statuses = await infraStatus(await configFor());
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
      } else {
        const rows = [
          ['SERVER', 'STATE', 'VERSION', 'PORT', 'PID', 'LOG'],
          ...statuses.map((s) => [
            `${s.name} (${s.title})`,
            s.state + (s.detail === undefined || s.state === 'down' ? '' : `: ${s.detail}`),
            s.version,
            String(s.port),
            s.pid === undefined ? '-' : String(s.pid),
            s.logFile,
          ]),
        ];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const row of rows) {
          process.stdout.write(
            `${row
              .map((cell, i) => cell.padEnd(widths[i]!))
              .join('  ')
              .trimEnd()}\n`,
          );
        }
      }
      if (statuses.some((s) => s.state !== 'up')) exitCode = 3;
    });
  program
    .command('env')
    .description('print KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL of the running servers')
    .action(async () => {
      const env = await infraEnv(await configFor());
      for (const [name, value] of Object.entries(env)) process.stdout.write(`${name}=${value}\n`);
    });
  await program.parseAsync(argv);
  return exitCode;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof InfraError) {
      process.stderr.write(`infra: ${error.message}\n`);
      process.exitCode = 1;
    } else if (error instanceof Error && 'exitCode' in error && 'code' in error) {
      // commander already printed the usage error (or the help, exit code 0).
      process.exitCode = Number(error.exitCode);
    } else {
      process.stderr.write(
        `infra: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
