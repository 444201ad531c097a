import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The `sagaflow` executable of this package. */
export const sagaflowBin = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../bin/sagaflow.js',
);

/** What a run of the binary ended with. */
export interface BinaryRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the `sagaflow` binary as its own process with the given arguments and environment (on
 * top of this process's); resolves with its exit code and output whatever the code.
 */
export async function runSagaflowBinary(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  options: { readonly cwd?: string } = {},
): Promise<BinaryRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [sagaflowBin, ...args], {
      env: { ...process.env, ...env },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
