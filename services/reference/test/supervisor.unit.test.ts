import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@sagaflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceSupervisor } from '../src/index.js';

const servicesDir = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'fixtures/idle-services',
);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const supervisors: ServiceSupervisor[] = [];
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stopAll(2_000)));
});

async function supervisor(): Promise<ServiceSupervisor> {
  const s = new ServiceSupervisor({
    env: process.env,
    ports: { order: 1, inventory: 2, payment: 3, shipping: 4, orchestrator: 5, admin: 6 },
    logDir: await mkdtemp(path.join(os.tmpdir(), 'supervisor-')),
    servicesDir,
  });
  supervisors.push(s);
  return s;
}

describe('ServiceSupervisor', () => {
  it('runs one process per instance however often it is started, and stops every one', async () => {
    const s = await supervisor();
    s.start('payment');
    const first = s.pid('payment')!;
    s.start('payment');
    expect(s.pid('payment')).toBe(first);
    await s.stopAll(2_000);
    expect(alive(first)).toBe(false);
  });

  it('keeps a stopped service stopped until it is started again, then runs it once', async () => {
    const s = await supervisor();
    s.start('payment');
    const first = s.pid('payment')!;
    await s.stop('payment', 0, 2_000);
    expect(alive(first)).toBe(false);
    expect(s.pid('payment')).toBeUndefined();
    s.start('payment');
    const second = s.pid('payment')!;
    s.start('payment');
    expect(s.pid('payment')).toBe(second);
    await waitFor(() => alive(second), {
      timeoutMs: 5_000,
      description: 'the service running again',
    });
    await s.stopAll(2_000);
    expect(alive(second)).toBe(false);
  });
});
