import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';

/** Where a system of the benchmark runs, and where its processes' logs go. */
export interface SystemPlace {
  readonly kafkaBrokers: readonly string[];
  readonly mongodbUrl: string;
  readonly partitions: number;
  readonly logRoot: string;
}

/** A process the benchmark started: its output goes to a log file. */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
  /** The first 64 KiB it wrote (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Every child still running: killed when the benchmark exits, however it exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `command args` with its output in `<logDir>/<name>.log`. */
export function startChild(options: {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logDir: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Run as this user and group (the benchmark must be root). @default the benchmark's */
  readonly user?: { readonly uid: number; readonly gid: number };
}): Child {
  mkdirSync(options.logDir, { recursive: true });
  const log = createWriteStream(path.join(options.logDir, `${options.name}.log`), { flags: 'a' });
  const child = spawn(options.command, [...options.args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let output = '';
  const keep = (chunk: Buffer) => {
    if (output.length < 65_536) output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  return {
    name: options.name,
    process: child,
    exited,
    output: () => output,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

/** A TypeScript module of the benchmark, run by node with tsx. */
export const tsxChild = (options: {
  readonly name: string;
  readonly module: string;
  readonly args?: readonly string[];
  readonly logDir: string;
  readonly env?: NodeJS.ProcessEnv;
}) =>
  startChild({
    ...options,
    command: process.execPath,
    args: ['--import', 'tsx', options.module, ...(options.args ?? [])],
  });

/** Resident memory of a process in MiB (Linux), or NaN. */
export async function rssMiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Math.round(Number(kb) / 1024);
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of each child, by name, MiB. */
export async function childrenRssMiB(children: readonly Child[]): Promise<Record<string, number>> {
  return Object.fromEntries(
    await Promise.all(children.map(async (c) => [c.name, await rssMiB(c.process.pid)] as const)),
  );
}

/** POSTs (or PUTs) JSON and returns the JSON answer; an error status throws, naming the call. */
export async function sendJson(
  url: string,
  body: unknown,
  options: {
    readonly method?: 'POST' | 'PUT';
    readonly timeoutMs?: number;
    readonly headers?: Readonly<Record<string, string>>;
  } = {},
): Promise<unknown> {
  const response = await fetch(url, {
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/**
 * Whether a command exits with 0 (and prints `expected`, when given): a readiness check of a
 * server's own tool. Its output is not shown.
 */
export function commandSays(
  command: string,
  args: readonly string[],
  expected?: string,
): Promise<boolean> {
  try {
    const output = execFileSync(command, [...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Promise.resolve(expected === undefined || output.includes(expected));
  } catch {
    return Promise.resolve(false);
  }
}
