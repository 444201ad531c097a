import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/** A process as `/proc` shows it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly cwd: string | undefined;
  readonly args: string;
}

/** Every process this user can see, with its parent, from `/proc` (none where there is none). */
async function parentsOf(): Promise<Map<number, number>> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const found = await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name): Promise<[number, number] | undefined> => {
        const stat = await readFile(path.join('/proc', name, 'stat'), 'utf8').catch(
          () => undefined,
        );
        if (stat === undefined) return undefined;
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
        return [Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])];
      }),
  );
  return new Map(found.filter((p): p is [number, number] => p !== undefined));
}

/** A process's folder and command line, for a message (kernel threads have none: skipped). */
async function describe(pid: number, ppid: number): Promise<ProcessInfo | undefined> {
  const dir = path.join('/proc', String(pid));
  const cmdline = await readFile(path.join(dir, 'cmdline'), 'utf8').catch(() => '');
  const cwd = await readlink(path.join(dir, 'cwd')).catch(() => undefined);
  const args = cmdline.split('\0').join(' ').trim();
  return args === '' ? undefined : { pid, ppid, cwd, args };
}

/**
 * The processes that descend from `ancestor` (its children, theirs, and so on). Only their
 * command lines and folders are read: the rest of the machine's processes only for their parent.
 */
export async function descendantsOf(ancestor: number): Promise<ProcessInfo[]> {
  const parentOf = await parentsOf();
  const descends = (pid: number) => {
    for (let at = parentOf.get(pid), hops = 0; at !== undefined && hops < 64; hops += 1) {
      if (at === ancestor) return true;
      at = parentOf.get(at);
    }
    return false;
  };
  const found = await Promise.all(
    [...parentOf].filter(([pid]) => descends(pid)).map(([pid, ppid]) => describe(pid, ppid)),
  );
  return found.filter((p): p is ProcessInfo => p !== undefined);
}
