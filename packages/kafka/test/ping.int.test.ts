import { testEnv, uniqueName } from '@sagaflow/testing';
import { afterAll, expect, it } from 'vitest';
import { KafkaBus } from '../src/index.js';

const buses: KafkaBus[] = [];
afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
});

const bus = (brokers: readonly string[], requests: string[]) => {
  const created = new KafkaBus({
    brokers,
    clientId: uniqueName('ping'),
    logLevel: 'nothing',
    onRequest: (operation) => requests.push(operation),
  });
  buses.push(created);
  return created;
};

// Readiness and the liveness watchdog ping every few seconds: a ping must stay cheap on a cluster
// of thousands of topics, where a metadata request for "every topic" costs tens of milliseconds.
it('pings the broker with one request, and no metadata request', async () => {
  const requests: string[] = [];
  await bus(testEnv().kafkaBrokers, requests).ping();
  expect(requests).toEqual(['ApiVersions']);
});

it('fails a ping when no broker answers', async () => {
  const requests: string[] = [];
  await expect(bus(['127.0.0.1:1'], requests).ping()).rejects.toThrow();
});
