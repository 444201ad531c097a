import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '@sagaflow/infra-local';
import { testEnv, uniqueName } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

function schemas(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'packages/schema-registry/src/cli.ts'), ...args],
      { cwd: repoRoot, env: { ...process.env, SCHEMA_REGISTRY_URL: testEnv().schemaRegistryUrl } },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('schemas CLI against the real registry', () => {
  let dir: string;
  const namespace = uniqueName('cli').replaceAll('-', '_');
  const write = (fields: object[]) =>
    writeFile(
      path.join(dir, 'Thing.avsc'),
      JSON.stringify({ type: 'record', name: 'ThingHappened', namespace, fields }),
    );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sagaflow-schemas-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('registers, then accepts a compatible change and refuses an incompatible one', async () => {
    await write([{ name: 'id', type: 'string' }]);
    const fresh = await schemas(['check', '--schemas', dir]);
    expect(fresh.code).toBe(0);
    const registered = await schemas(['register', '--schemas', dir]);
    expect(registered.code).toBe(0);
    expect(registered.stdout).toMatch(
      new RegExp(`registered ${namespace}\\.ThingHappened version 1`),
    );

    await write([
      { name: 'id', type: 'string' },
      { name: 'note', type: 'string', default: '' },
    ]);
    const compatible = await schemas(['check', '--schemas', dir]);
    expect(compatible.code).toBe(0);
    expect(compatible.stdout).toMatch(/^compatible\s+.*ThingHappened/m);

    await write([{ name: 'id', type: 'int' }]);
    const incompatible = await schemas(['check', '--schemas', dir]);
    expect(incompatible.code).toBe(1);
    expect(incompatible.stdout).toMatch(
      new RegExp(`^incompatible\\s+${namespace}\\.ThingHappened \\(.*Thing\\.avsc\\)`, 'm'),
    );
    expect(incompatible.stderr).toMatch(/not BACKWARD compatible/);
  });

  it('says a generated file is stale, and that the registry address is missing', async () => {
    await write([{ name: 'id', type: 'string' }]);
    const out = path.join(dir, 'types.ts');
    await writeFile(out, '// old\n');
    const stale = await schemas(['generate', '--schemas', dir, '--out', out, '--check']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/types\.ts is stale: run 'pnpm schemas:generate'/);
    expect((await schemas(['generate', '--schemas', dir, '--out', out])).code).toBe(0);
    expect((await schemas(['generate', '--schemas', dir, '--out', out, '--check'])).code).toBe(0);

    const noRegistry = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(repoRoot, 'packages/schema-registry/src/cli.ts'),
          'check',
          '--schemas',
          dir,
        ],
        { cwd: repoRoot, env: { ...process.env, SCHEMA_REGISTRY_URL: '' } },
        (error, _stdout, stderr) =>
          resolve({ code: typeof error?.code === 'number' ? error.code : 0, stderr }),
      );
    });
    expect(noRegistry.code).toBe(1);
    expect(noRegistry.stderr).toMatch(/pass --registry <url> or set SCHEMA_REGISTRY_URL/);
  });
});
