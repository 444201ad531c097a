import { deadLetterTopic, eventsTopic, type SagaflowServiceOptions } from '@sagaflow/core';
import { Kafka, logLevel } from 'kafkajs';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { demoDomain, demoSchemasDir, type MirrorState } from '../fixtures/demo-domain.js';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { realService } from '../fixtures/real-service.js';

const closing: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(closing.map((c) => c.close()));
});

async function service(
  name: string,
  definition: Pick<SagaflowServiceOptions, 'entities' | 'processors'>,
  mongodbUrl?: string,
) {
  const built = await realService(testEnv(), {
    name,
    database: uniqueDatabase(name.slice(0, 20)),
    schemasDir: demoSchemasDir,
    ...definition,
    ...(mongodbUrl === undefined ? {} : { mongodbUrl }),
  });
  closing.push(built);
  return built;
}

describe('SagaflowService on Kafka, Apicurio and FerretDB', () => {
  it('creates its topics, reports ready, and stops gracefully mid-stream without losing or repeating', async () => {
    const domain = uniqueDomain();
    const { account, mirror, mirrorProcessor } = demoDomain(domain);
    const accounts = await service(`accounts-${domain}`, { entities: [account] });
    const mirrors = await service(`mirrors-${domain}`, {
      entities: [mirror],
      processors: [mirrorProcessor],
    });
    await accounts.service.start();
    await mirrors.service.start();
    expect(await mirrors.service.readiness()).toEqual({
      ready: true,
      checks: { service: { ok: true }, database: { ok: true }, kafka: { ok: true } },
    });
    // Topics were created at start, with the configured partitions.
    const admin = new Kafka({
      brokers: [...testEnv().kafkaBrokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({
      topics: [
        eventsTopic(account.type),
        eventsTopic(mirror.type),
        deadLetterTopic(mirrors.service.groupOf(mirrorProcessor)),
      ],
    });
    await admin.disconnect();
    const partitions = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
    expect(partitions).toEqual({
      [eventsTopic(account.type)]: 3,
      [eventsTopic(mirror.type)]: 3,
      [deadLetterTopic(mirrors.service.groupOf(mirrorProcessor))]: 1,
    });

    const writing = (async () => {
      for (let n = 1; n <= 60; n += 1) {
        await accounts.service.execute(
          account,
          `acc-${n % 3}`,
          'Deposit',
          { amount: n },
          { causationKey: `d${n}` },
        );
      }
    })();
    // Stop the consuming service while events flow, then start it again on the same database.
    await waitFor(
      async () =>
        ((await mirrors.store.load<MirrorState>(mirror.type, 'acc-1'))?.version ?? 0) >= 2,
      {
        timeoutMs: 30_000,
        description: 'the first mirrored deposits',
      },
    );
    await mirrors.service.stop();
    expect((await mirrors.service.readiness()).ready).toBe(false);
    await writing;
    const restarted = mirrors.again();
    await restarted.start();
    const all = await waitFor(
      async () => {
        const m = await Promise.all(
          [0, 1, 2].map((a) => mirrors.store.load<MirrorState>(mirror.type, `acc-${a}`)),
        );
        return m.every((s) => s?.version === 20) ? m : undefined;
      },
      { timeoutMs: 60_000, description: 'every deposit mirrored' },
    );
    for (const m of all) expect(m!.state.applied).toEqual([...Array(20).keys()].map((i) => i + 1));
    const total = all.reduce((sum, m) => sum + m!.state.balance, 0);
    expect(total).toBe((60 * 61) / 2);
    await restarted.stop();
    await accounts.service.stop();
  });

  it('is not ready while its database does not answer', async () => {
    const domain = uniqueDomain();
    const { account } = demoDomain(domain);
    const broken = await service(
      `broken-${domain}`,
      { entities: [account] },
      'mongodb://127.0.0.1:1',
    );
    const readiness = await broken.service.readiness();
    expect(readiness.ready).toBe(false);
    expect(readiness.checks.database.ok).toBe(false);
    expect(readiness.checks.database.error).toMatch(/ECONNREFUSED|connect|timed out/i);
    expect(readiness.checks.kafka).toEqual({ ok: true });
  });
});
