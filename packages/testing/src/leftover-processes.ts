import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/** A process as `/proc` shows it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly cwd: string | undefined;
  readonly args: string;
}

/** Every process this user can see, from `/proc` (empty where there is none: not Linux). */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const found = await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name): Promise<ProcessInfo | undefined> => {
        const dir = path.join('/proc', name);
        const stat = await readFile(path.join(dir, 'stat'), 'utf8').catch(() => undefined);
        if (stat === undefined) return undefined;
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const cmdline = await readFile(path.join(dir, 'cmdline'), 'utf8').catch(() => '');
        const cwd = await readlink(path.join(dir, 'cwd')).catch(() => undefined);
        return { pid: Number(name), ppid, cwd, args: cmdline.split('\0').join(' ').trim() };
      }),
  );
  return found.filter((p): p is ProcessInfo => p !== undefined && p.args !== '');
}

/** The processes that descend from `ancestor` (its children, theirs, and so on). */
export async function descendantsOf(ancestor: number): Promise<ProcessInfo[]> {
  const all = await listProcesses();
  const parentOf = new Map(all.map((p) => [p.pid, p.ppid]));
  const descends = (pid: number) => {
    for (let at = parentOf.get(pid), hops = 0; at !== undefined && hops < 64; hops += 1) {
      if (at === ancestor) return true;
      at = parentOf.get(at);
    }
    return false;
  };
  return all.filter((p) => descends(p.pid));
}
