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

/**
 * `count` ports free on 127.0.0.1 now, all different: each is held until all are found (ports
 * asked for one after another may be the same one twice).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
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
