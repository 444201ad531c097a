import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSagaflowBinary } from '../src/binary.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A command's exit code and output (stdout and stderr), whatever the code. */
async function sh(command: string, args: readonly string[], cwd: string) {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, output: stripVTControlCharacters(`${stdout}${stderr}`) };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: stripVTControlCharacters(`${e.stdout}${e.stderr}`) };
  }
}

let workspace = '';

// A copy of the repository as a fresh clone has it (its tracked files and new ones not ignored),
// installed from the lockfile: the generator runs in it as a user would.
beforeAll(async () => {
  workspace = await mkdtemp(path.join(os.tmpdir(), 'sagaflow-new-'));
  const listed = await sh(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    repo,
  );
  expect(listed.code).toBe(0);
  for (const file of listed.output.split('\0').filter((f) => f !== '')) {
    const from = path.join(repo, file);
    await mkdir(path.dirname(path.join(workspace, file)), { recursive: true });
    // A file deleted in the working tree but still in the index is left out.
    await cp(from, path.join(workspace, file)).catch(() => {});
  }
  const install = await sh('pnpm', ['install', '--frozen-lockfile', '--prefer-offline'], workspace);
  expect(install.code, install.output).toBe(0);
}, 300_000);

afterAll(async () => {
  if (workspace !== '') await rm(workspace, { recursive: true, force: true });
});

describe('sagaflow new service', { timeout: 600_000 }, () => {
  it('writes a service whose own tests, the typecheck and the lint pass straight away', async () => {
    const made = await runSagaflowBinary(
      ['new', 'service', 'loyalty-points'],
      {},
      {
        cwd: path.join(workspace, 'services'),
      },
    );
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('made services/loyalty-points (14 files)');
    expect(made.stderr).toContain('wrote services/loyalty-points/src/item.ts');
    const manifest = JSON.parse(
      await readFile(path.join(workspace, 'services/loyalty-points/package.json'), 'utf8'),
    ) as { name: string; scripts: Record<string, string> };
    expect(manifest.name).toBe('loyalty-points');
    expect(await readFile(path.join(workspace, 'pnpm-lock.yaml'), 'utf8')).toContain(
      'services/loyalty-points:',
    );

    // Its unit tier in memory and its integration tier on this run's real servers.
    const tests = await sh('pnpm', ['--filter', 'loyalty-points', 'test'], workspace);
    expect(tests.code, tests.output).toBe(0);
    expect(tests.output).toMatch(/loyalty-points\.unit\.test\.ts \(2 tests\)/);
    expect(tests.output).toMatch(/loyalty-points\.int\.test\.ts \(2 tests\)/);
    expect(tests.output).toContain('4 passed, 0 failed, 0 skipped');

    // The workspace's typecheck stays clean with it, and its files pass the lint and the format.
    const checks: [string, string[]][] = [
      ['typecheck', ['--silent', 'typecheck']],
      ['lint', ['exec', 'eslint', 'services/loyalty-points']],
      ['format', ['exec', 'prettier', '--check', 'services/loyalty-points']],
    ];
    for (const [name, args] of checks) {
      const started = Date.now();
      const run = await sh('pnpm', args, workspace);
      expect(run.code, `${name}:\n${run.output}`).toBe(0);
      process.stdout.write(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
    // Its types are what its schemas give.
    const types = await sh(
      'pnpm',
      ['--filter', 'loyalty-points', '--silent', 'schemas:generate', '--check'],
      workspace,
    );
    expect(types.code, types.output).toBe(0);
  });

  it('refuses a bad name, a name taken, a bad port and a folder outside a workspace, naming each', async () => {
    const cases: [string[], string, RegExp][] = [
      [['Loyalty_Points'], workspace, /<name> must be kebab-case.*got 'Loyalty_Points'/],
      [['sagaflow'], workspace, /a package named 'sagaflow' already \(\.\)/],
      [['order-service'], workspace, /services\/order-service exists already/],
      [['points', '--port', '70000'], workspace, /--port must be a whole number from 1 to 65535/],
      [['points'], os.tmpdir(), /no pnpm workspace \(pnpm-workspace\.yaml\)/],
    ];
    for (const [args, cwd, message] of cases) {
      const run = await runSagaflowBinary(['new', 'service', ...args], {}, { cwd });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    await expect(readFile(path.join(workspace, 'services/points/package.json'))).rejects.toThrow(
      /ENOENT/,
    );
  });
});
