import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  noMetrics,
  ProcessorRuntime,
  type EventSerde,
} from '@sagaflow/core';
import { infraDown, infraUp, loadInfraConfig, type InfraConfig } from '@sagaflow/infra-local';
import { freePort } from '@sagaflow/reference';
import { AvroSerde, loadSchemaCatalog } from '@sagaflow/schema-registry';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoSchemasDir } from '../fixtures/demo-domain.js';
import { startPipeline, uniqueDomain, type Pipeline } from '../fixtures/pipeline.js';

/*
 * A schema registry of this test's own (Apicurio on a free port, its data kept across a
 * restart), so that stopping it disturbs no other test; Kafka and the database are the shared
 * ones.
 */
let config: InfraConfig;
let registryUrl: string;
let p: Pipeline | undefined;

beforeAll(async () => {
  config = loadInfraConfig({
    ...process.env,
    SAGAFLOW_INFRA_STATE_DIR: path.join(
      os.tmpdir(),
      `sagaflow-registry-restart-${process.pid}-${Date.now().toString(36)}`,
    ),
    SAGAFLOW_REGISTRY_PORT: String(await freePort()),
  });
  const up = await infraUp(config, () => {}, { servers: ['registry'] });
  registryUrl = up.env.SCHEMA_REGISTRY_URL;
}, 240_000);

afterAll(async () => {
  await p?.stop();
  if (config !== undefined) {
    await infraDown(config, { wipe: true, servers: ['registry'] });
    await rm(config.stateDir, { recursive: true, force: true });
  }
}, 120_000);

it('waits out a schema registry that is down for a consumer that has not seen the schema, and dead-letters nothing', async () => {
  const pipeline = await startPipeline(
    { ...testEnv(), schemaRegistryUrl: registryUrl },
    { domain: uniqueDomain(), database: uniqueDatabase('registry') },
  );
  p = pipeline;
  pipeline.relay.start();
  // An event whose schema only the registry can tell a fresh consumer.
  await pipeline.entities.execute(pipeline.account, 'acc-1', 'Deposit', { amount: 7 });
  await infraDown(config, { servers: ['registry'] });
  // A consumer that starts while the registry is down, with nothing cached.
  const fresh = new AvroSerde({ registryUrl, catalog: await loadSchemaCatalog(demoSchemasDir) });
  const serde: EventSerde = {
    encode: (type, payload) => fresh.encode(type, payload),
    decode: (type, value) => fresh.decode(type, value),
  };
  const handled: number[] = [];
  const waiting: string[] = [];
  const processor = defineProcessor<{ Deposited: { accountId: string; amount: number } }>({
    name: 'late-reader',
    topics: [eventsTopic(pipeline.account.type)],
    ignore: ['Flagged'],
    handlers: {
      Deposited: ({ payload }) => {
        handled.push(payload.amount);
        return Promise.resolve();
      },
    },
  });
  const runtime = new ProcessorRuntime({
    service: 'late',
    subscriber: pipeline.bus,
    publisher: pipeline.bus,
    serde,
    entities: pipeline.entities,
    // Few attempts: a hopeless message would be dead-lettered at once.
    maxAttempts: 2,
    backoff: { initialMs: 20, maxMs: 200, multiplier: 2 },
    metrics: {
      ...noMetrics,
      messageWaiting: ({ code }, change) => void waiting.push(`${change}:${code}`),
    },
  });
  const dlq = deadLetterTopic(runtime.groupOf(processor));
  await pipeline.bus.ensureTopics([{ topic: dlq, partitions: 1 }]);
  const subscription = await runtime.start(processor);
  try {
    await waitFor(() => waiting.includes('1:SERDE_FAILED'), {
      timeoutMs: 60_000,
      description: 'the consumer waiting for the registry',
    });
    expect(handled).toEqual([]);
    await infraUp(config, () => {}, { servers: ['registry'] });
    await waitFor(() => handled.includes(7), {
      timeoutMs: 60_000,
      description: 'the event handled once the registry is back',
    });
    expect(waiting).toContain('-1:SERDE_FAILED');
    const ends = await pipeline.bus.endOffsets(dlq);
    expect([...ends.values()].reduce((a, b) => a + b, 0n)).toBe(0n);
  } finally {
    runtime.stopping();
    await subscription.stop();
  }
}, 240_000);
