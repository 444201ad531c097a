import {
  deadLetterHeaders,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  noMetrics,
  ProcessorRuntime,
  replayTopic,
  type EventSerde,
} from '@sagaflow/core';
import { AvroSerde, loadSchemaCatalog } from '@sagaflow/schema-registry';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoSchemasDir } from '../fixtures/demo-domain.js';
import { startOwnServer, type OwnServer } from '../fixtures/own-server.js';
import { startPipeline, uniqueDomain, type Pipeline } from '../fixtures/pipeline.js';

/* A schema registry of this test's own (its data kept across a restart), so that stopping it
 * disturbs no other test. */
let registry: OwnServer | undefined;
let p: Pipeline | undefined;

beforeAll(async () => {
  registry = await startOwnServer('registry', 'registry-restart');
}, 240_000);

afterAll(async () => {
  await p?.stop();
  await registry?.remove();
}, 120_000);

it('waits out a schema registry that is down for a consumer that has not seen the schema, and dead-letters nothing', async () => {
  const domain = uniqueDomain();
  const pipeline = await startPipeline(
    { ...testEnv(), schemaRegistryUrl: registry!.env.SCHEMA_REGISTRY_URL },
    { domain, database: uniqueDatabase('registry') },
  );
  p = pipeline;
  pipeline.relay.start();
  // An event whose schema only the registry can tell a fresh consumer.
  await pipeline.entities.execute(pipeline.account, 'acc-1', 'Deposit', { amount: 7 });
  await registry!.stop();
  // A consumer that starts while the registry is down, with nothing cached.
  const fresh = new AvroSerde({
    registryUrl: registry!.env.SCHEMA_REGISTRY_URL,
    catalog: await loadSchemaCatalog(demoSchemasDir),
  });
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
  const deadLettered: string[] = [];
  const runtime = new ProcessorRuntime({
    onDeadLetter: (message) =>
      void deadLettered.push(
        `${message.headers[deadLetterHeaders.errorCode]}: ${message.headers[deadLetterHeaders.reason]}`,
      ),
    // Groups and dead-letter topics of this run alone.
    service: `late-${domain}`,
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
  await pipeline.bus.ensureTopics([
    { topic: dlq, partitions: 1 },
    { topic: replayTopic(runtime.groupOf(processor)), partitions: 1 },
  ]);
  const subscription = await runtime.start(processor);
  try {
    await waitFor(() => waiting.includes('1:SERDE_FAILED'), {
      timeoutMs: 60_000,
      description: 'the consumer waiting for the registry',
    });
    expect(handled).toEqual([]);
    await registry!.start();
    await waitFor(() => handled.includes(7), {
      timeoutMs: 60_000,
      description: 'the event handled once the registry is back',
    });
    expect(waiting).toContain('-1:SERDE_FAILED');
    const ends = await pipeline.bus.endOffsets(dlq);
    expect(
      [...ends.values()].reduce((a, b) => a + b, 0n),
      deadLettered.join('\n'),
    ).toBe(0n);
  } finally {
    runtime.stopping();
    await subscription.stop();
  }
}, 240_000);
