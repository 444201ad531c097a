import { spawn } from 'node:child_process';
import { createWriteStream, openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when the process exists and its command line carries the marker: a pid file is never
 * trusted alone, since the pid may have been reused by an unrelated process since.
 */
export async function isOwnProcess(pid: number, marker: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** Lowest port a server of ours is given: above the well-known and most registered ones. */
const LOWEST_PORT = 20_000;
/** Ports that stay unused even when free: those the servers' defaults may take later. */
const RESERVED_PORTS = new Set([27_017, 27_018, 27_019]);
/** Ports already handed out by this process, never handed out again. */
const handedOut = new Set<number>();

/**
 * The first port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`): the ports it
 * gives outgoing connections as their local ports. @default 32768 where it cannot be read
 */
async function readEphemeralLow(): Promise<number> {
  try {
    const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const low = Number(range.trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST_PORT + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Read once per process: a machine setting. */
let ephemeralLow: Promise<number> | undefined;

/**
 * The first of `count` consecutive ports free on 127.0.0.1 now (a Kafka cluster's brokers and
 * controllers), none handed out before by this process.
 *
 * Ports are taken below the kernel's ephemeral range: a server binds its port seconds after it is
 * picked (a JVM), and meanwhile any outgoing connection on the machine may take a port of that
 * range as its local port, so that the server cannot bind it (in CI: a broker that never answered,
 * "did not answer within 180000 ms").
 */
export async function freePortRun(count: number): Promise<number> {
  const high = await (ephemeralLow ??= readEphemeralLow());
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const base = LOWEST_PORT + Math.floor(Math.random() * (high - LOWEST_PORT - count));
    const run = Array.from({ length: count }, (_, i) => base + i);
    if (run.some((port) => handedOut.has(port) || RESERVED_PORTS.has(port))) continue;
    const free = await Promise.all(run.map(isPortFree));
    if (!free.every(Boolean)) continue;
    for (const port of run) handedOut.add(port);
    return base;
  }
  throw new Error(`no ${count} consecutive free ports found below ${high}`);
}

/**
 * `count` ports free on 127.0.0.1 now, all different and none handed out before by this process,
 * below the kernel's ephemeral range (see {@link freePortRun}).
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await freePortRun(1));
  return ports;
}

/** True when nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.once('listening', () => server.close(() => resolve(true)));
    server.listen({ port, host: '127.0.0.1', exclusive: true });
  });
}

export interface CommandSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts a long-running server in its own process group, detached from this process, with its
 * output appended to the log file. Returns the child, still running, for early-exit detection.
 */
export function startDetached(spec: CommandSpec, logFile: string) {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd ?? path.dirname(logFile),
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Runs a command to completion, its output appended to the log; resolves with stdout. */
export function runToCompletion(spec: CommandSpec, logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`\n$ ${spec.command} ${spec.args.join(' ')}\n`);
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    /** The end of what it printed, for the error (a test's log folder may be gone by then). */
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-1500);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      keep(chunk);
      log.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      keep(chunk);
      log.write(chunk);
    });
    child.once('error', (error) => {
      log.end();
      reject(error);
    });
    child.once('close', (code, signal) => {
      log.end(() => {
        if (code === 0) resolve(stdout);
        else
          reject(
            new Error(
              `'${spec.command} ${spec.args.join(' ')}' exited with ${signal ?? `code ${code}`}${tail.trim() === '' ? '' : `; it printed: ${tail.trim()}`}`,
            ),
          );
      });
    });
  });
}

/**
 * Stops a process group started by {@link startDetached}: SIGTERM, then SIGKILL after the grace
 * period (at once for 0: a crash). Resolves once the leader is gone.
 */
export async function stopProcessGroup(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (graceMs > 0) signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await delay(100);
  if (isAlive(pid)) {
    signal('SIGKILL');
    while (isAlive(pid)) await delay(50);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last lines of a log, to show with a failure. */
export async function tailOf(file: string, lines = 15): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
