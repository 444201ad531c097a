import { describe, expect, it } from 'vitest';
import {
  runServiceProcess,
  serviceApp,
  type LivenessReport,
  type ReadinessReport,
} from '../src/index.js';

const silent = { info() {}, warn() {}, error() {}, fatal() {} };

describe('runServiceProcess', () => {
  it('retries a failed start-up, then exits for a fresh process once the database stays unreachable, saying so on /healthz', async () => {
    let attempts = 0;
    let database = true;
    let stopped = 0;
    let livenessOf: (() => LivenessReport) | undefined;
    const exits: number[] = [];
    const readiness = (): Promise<ReadinessReport> =>
      Promise.resolve({
        ready: database,
        checks: {
          service: { ok: true },
          database: database ? { ok: true } : { ok: false, error: 'connection 2 closed' },
        },
      });
    const running = await runServiceProcess({
      address: { host: '127.0.0.1', port: 0 },
      logger: silent,
      startup: { backoff: { initialMs: 1, maxMs: 1, multiplier: 1 } },
      deadAfterMs: 300,
      livenessIntervalMs: 50,
      exit: (code) => exits.push(code),
      build: ({ liveness }) => {
        livenessOf = liveness;
        attempts += 1;
        if (attempts < 3) {
          return Promise.reject(
            Object.assign(new Error('This server does not host this topic-partition'), {
              retriable: true,
            }),
          );
        }
        const { app } = serviceApp({
          service: 'probe-service',
          readiness,
          liveness,
          routes: () => {},
        });
        return Promise.resolve({
          name: 'probe-service',
          app,
          readiness,
          start: () => Promise.resolve(),
          stop: () => {
            stopped += 1;
            return Promise.resolve();
          },
        });
      },
    });
    expect(attempts).toBe(3);
    const healthz = () => fetch(`http://127.0.0.1:${running.port}/healthz`);
    expect((await healthz()).status).toBe(200);
    database = false;
    // Alive while the outage is shorter than deadAfterMs.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await healthz()).status).toBe(200);
    const deadline = Date.now() + 5_000;
    while (exits.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(exits).toEqual([1]);
    expect(stopped).toBe(1);
    // What GET /healthz answers with once dead (503 with the reason).
    expect(livenessOf?.()).toEqual({ alive: false, reason: 'database: connection 2 closed' });
  });
});
