import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { serviceApp } from '../src/index.js';

it('shows on /readyz which dependency is not ready, without the driver text, to anyone', async () => {
  const { app } = serviceApp({
    service: 'payment-service',
    readiness: () =>
      Promise.resolve({
        ready: false,
        checks: {
          service: { ok: true },
          database: {
            ok: false,
            error: 'connect ECONNREFUSED 10.1.2.3:27017 (mongodb://admin:hunter2@10.1.2.3)',
            stuck: true,
          },
          kafka: { ok: false, error: 'Request Metadata(key: 3, version: 6) timed out' },
        },
      }),
    routes: () => {},
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const response = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`,
    );
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      ready: false,
      checks: {
        service: { ok: true },
        database: { ok: false, error: 'database is not ready', stuck: true },
        kafka: { ok: false, error: 'kafka is not ready' },
      },
    });
    expect(text).not.toMatch(/10\.1\.2\.3|hunter2|Metadata/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
