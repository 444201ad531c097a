/**
 * A vitest setup file: a test file fails if it leaves a process it started running (a service,
 * a broker, a browser). Such a process goes on using the machine for the rest of the run and
 * slows every test after it, until the slow ones time out far from the cause. After the file's
 * own hooks, its worker's descendants get a few seconds to exit; those still there are named in
 * the failure and killed.
 */
import { afterAll } from 'vitest';
import { descendantsOf } from './leftover-processes.js';
import { waitFor } from './wait-for.js';

const GRACE_MS = 10_000;

afterAll(async () => {
  await waitFor(async () => (await descendantsOf(process.pid)).length === 0, {
    timeoutMs: GRACE_MS,
    intervalMs: 100,
  }).catch(() => {});
  const left = await descendantsOf(process.pid);
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone in the meantime
    }
  }
  throw new Error(
    `this file left ${left.length} process(es) running ${GRACE_MS / 1000} s after its tests (now killed); stop what a test starts:\n${left
      .map((p) => `  pid ${p.pid} (parent ${p.ppid}, in ${p.cwd ?? '?'}): ${p.args.slice(0, 300)}`)
      .join('\n')}`,
  );
}, GRACE_MS + 5_000);
