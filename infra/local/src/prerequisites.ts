import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** A command-line tool that installing or running a server needs. */
export interface Tool {
  readonly command: 'java' | 'mvn' | 'go';
  readonly why: string;
}

/** Finds an executable on PATH, like `command -v`. */
export function findOnPath(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** The major version of the `java` on PATH, or undefined when it cannot be read. */
export function javaMajorVersion(): number | undefined {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

/** What is missing for the given tools, one sentence each; empty when all are there. */
export function missingTools(tools: readonly Tool[]): string[] {
  const missing: string[] = [];
  for (const tool of tools) {
    if (findOnPath(tool.command) === undefined) {
      missing.push(`'${tool.command}' is not on PATH (${tool.why})`);
    } else if (tool.command === 'java') {
      const major = javaMajorVersion();
      if (major === undefined || major < 17) {
        missing.push(
          `'java' must be version 17 or newer, found ${major ?? 'an unreadable version'}`,
        );
      }
    }
  }
  return missing;
}
