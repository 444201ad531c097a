import { describe, expect, it } from 'vitest';
import { LivenessWatchdog, livenessOf } from '../src/index.js';

function watchdogOn(results: boolean[], deadAfterMs = 10_000) {
  let now = 0;
  const deaths: { reason: string; failingForMs: number }[] = [];
  const watchdog = new LivenessWatchdog({
    probe: () => {
      const ok = results.shift() ?? true;
      return Promise.resolve(ok ? { ok } : { ok, reason: 'database: connection 2 closed' });
    },
    deadAfterMs,
    intervalMs: 1_000,
    now: () => now,
    onDead: (reason, failingForMs) => deaths.push({ reason, failingForMs }),
  });
  const at = async (ms: number) => {
    now = ms;
    await watchdog.check();
  };
  return { watchdog, deaths, at };
}

describe('LivenessWatchdog', () => {
  it('waits out an outage shorter than deadAfterMs', async () => {
    const { watchdog, deaths, at } = watchdogOn([false, false, false, true]);
    await at(0);
    await at(5_000);
    await at(9_999);
    expect(watchdog.failing).toEqual({ sinceMs: 0, reason: 'database: connection 2 closed' });
    await at(12_000);
    expect(watchdog.failing).toBeUndefined();
    expect(watchdog.alive).toBe(true);
    expect(deaths).toEqual([]);
  });

  it('declares the process dead, once, when the probe fails without a break for deadAfterMs', async () => {
    const { watchdog, deaths, at } = watchdogOn([true, false, false, false, false, false]);
    await at(0);
    await at(1_000);
    await at(6_000);
    expect(watchdog.alive).toBe(true);
    await at(11_000);
    expect(watchdog.alive).toBe(false);
    await at(12_000);
    expect(deaths).toEqual([{ reason: 'database: connection 2 closed', failingForMs: 10_000 }]);
  });

  it('counts a probe that throws as a failure', async () => {
    const deaths: string[] = [];
    let now = 0;
    const watchdog = new LivenessWatchdog({
      probe: () => Promise.reject(new Error('selection timed out')),
      deadAfterMs: 1,
      now: () => now,
      onDead: (reason) => deaths.push(reason),
    });
    await watchdog.check();
    now = 1;
    await watchdog.check();
    expect(deaths).toEqual(['selection timed out']);
  });

  it('declares a stuck client dead after stuckAfterMs, and an outage only after deadAfterMs', async () => {
    let now = 0;
    const results: { ok: boolean; reason?: string; stuck?: boolean }[] = [
      { ok: false, reason: 'database: down' },
      { ok: false, reason: 'database: down' },
      { ok: false, reason: 'database: answers a fresh client', stuck: true },
      { ok: false, reason: 'database: answers a fresh client', stuck: true },
      { ok: false, reason: 'database: answers a fresh client', stuck: true },
    ];
    const deaths: { reason: string; failingForMs: number }[] = [];
    const watchdog = new LivenessWatchdog({
      probe: () => Promise.resolve(results.shift() ?? { ok: true }),
      deadAfterMs: 60_000,
      stuckAfterMs: 15_000,
      now: () => now,
      onDead: (reason, failingForMs) => deaths.push({ reason, failingForMs }),
    });
    for (const at of [0, 10_000, 20_000, 30_000]) {
      now = at;
      await watchdog.check();
    }
    // Stuck since 20 s: not yet 15 s.
    expect(watchdog.alive).toBe(true);
    now = 35_000;
    await watchdog.check();
    expect(watchdog.alive).toBe(false);
    expect(deaths).toEqual([{ reason: 'database: answers a fresh client', failingForMs: 35_000 }]);
  });

  it('refuses bad options, naming them', () => {
    const base = { probe: () => Promise.resolve({ ok: true }), onDead: () => {} };
    expect(() => new LivenessWatchdog({ ...base, deadAfterMs: 0 })).toThrow(/deadAfterMs/);
    expect(() => new LivenessWatchdog({ ...base, intervalMs: 1.5 })).toThrow(/intervalMs/);
    expect(() => new LivenessWatchdog({ ...base, stuckAfterMs: -1 })).toThrow(/stuckAfterMs/);
  });
});

describe('livenessOf', () => {
  it('reads the failed server checks of a readiness report, not the service state', () => {
    expect(
      livenessOf({
        ready: false,
        checks: {
          service: { ok: false, error: 'the service is starting' },
          database: { ok: true },
        },
      }),
    ).toEqual({ ok: true });
    expect(
      livenessOf({
        ready: false,
        checks: {
          service: { ok: true },
          database: { ok: false, error: 'connection 2 closed' },
          kafka: { ok: false },
        },
      }),
    ).toEqual({ ok: false, reason: 'database: connection 2 closed; kafka: not answering' });
    expect(
      livenessOf({
        ready: false,
        checks: {
          service: { ok: true },
          database: { ok: false, error: 'answers a fresh client', stuck: true },
          kafka: { ok: true },
        },
      }),
    ).toEqual({ ok: false, reason: 'database: answers a fresh client', stuck: true });
  });
});
