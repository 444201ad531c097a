#!/usr/bin/env node
import { Command } from 'commander';
import { AvroSerde } from './avro-serde.js';
import { checkCompatibility } from './compatibility.js';
import { loadSchemaCatalog } from './schema-catalog.js';
import { syncTypesFile } from './types-file.js';

function registryUrl(option: string | undefined): string {
  const url = option ?? process.env['SCHEMA_REGISTRY_URL'];
  if (url === undefined || url === '') {
    throw new Error(
      'the registry address is missing: pass --registry <url> or set SCHEMA_REGISTRY_URL',
    );
  }
  return url.replace(/\/+$/, '');
}

async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('sagaflow-schemas')
    .description('Avro schemas of sagaflow: TypeScript types, compatibility check, registration')
    .exitOverride();
  program
    .command('generate')
    .description(
      'write the TypeScript types of the schemas (with --check: fail if the file is stale)',
    )
    .requiredOption('--schemas <dir>', 'folder of .avsc files')
    .requiredOption('--out <file>', 'TypeScript file to write')
    .option('--check', 'do not write; exit 1 when the file differs from what would be written')
    .action(async (options: { schemas: string; out: string; check?: boolean }) => {
      const { stale } = await syncTypesFile(options.schemas, options.out, {
        check: options.check === true,
      });
      if (options.check === true) {
        if (stale) {
          process.stderr.write(
            `${options.out} is stale: run 'pnpm schemas:generate' and commit the result\n`,
          );
          exitCode = 1;
        }
        return;
      }
      process.stderr.write(`wrote ${options.out}\n`);
    });
  program
    .command('check')
    .description('exit 1 when a schema is not BACKWARD compatible with the version registered')
    .requiredOption('--schemas <dir>', 'folder of .avsc files')
    .option('--registry <url>', 'Confluent-compatible API base URL (default: SCHEMA_REGISTRY_URL)')
    .action(async (options: { schemas: string; registry?: string }) => {
      const url = registryUrl(options.registry);
      const catalog = await loadSchemaCatalog(options.schemas);
      for (const entry of catalog.entries()) {
        const verdict = await checkCompatibility(url, entry);
        process.stdout.write(`${verdict.padEnd(12)} ${entry.fullName} (${entry.file})\n`);
        if (verdict === 'incompatible') exitCode = 1;
      }
      if (exitCode !== 0) {
        process.stderr.write(
          'some schemas are not BACKWARD compatible with the registered versions\n',
        );
      }
    });
  program
    .command('register')
    .description('register every schema under BACKWARD compatibility')
    .requiredOption('--schemas <dir>', 'folder of .avsc files')
    .option('--registry <url>', 'Confluent-compatible API base URL (default: SCHEMA_REGISTRY_URL)')
    .action(async (options: { schemas: string; registry?: string }) => {
      const serde = new AvroSerde({
        registryUrl: registryUrl(options.registry),
        catalog: await loadSchemaCatalog(options.schemas),
      });
      for (const ref of await serde.registerAll()) {
        process.stdout.write(`registered ${ref.subject} version ${ref.version} (id ${ref.id})\n`);
      }
    });
  await program.parseAsync(argv);
  return exitCode;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof Error && 'exitCode' in error && 'code' in error) {
      process.exitCode = Number(error.exitCode);
    } else {
      process.stderr.write(`schemas: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
