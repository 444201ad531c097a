import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { SpanKind } from '@opentelemetry/api';
import { spanAttributes } from '@sagaflow/core';
import { createLogger, startTracing, type Tracing } from '@sagaflow/observability';
import {
  buildReferenceService,
  listen,
  loadServiceConfig,
  realAdapters,
  ReferenceClient,
  type RunningService,
  type ServiceName,
} from '@sagaflow/reference';
import { testEnv, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The reference services (without the orchestrator) in this process on the real servers, with
 * tracing to an in-memory exporter and debug logs to memory: one choreography saga must make one
 * connected trace through the services, move the metrics of each service, and log lines that
 * carry its ids with the sensitive fields redacted.
 */
const exporter = new InMemorySpanExporter();
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) {
      if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  },
});
let tracing: Tracing;
const running: RunningService[] = [];
const urls = {} as Record<ServiceName, string>;
const token = randomBytes(12).toString('hex');

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'sagaflow-observability-test', exporter });
  const { kafkaBrokers, schemaRegistryUrl, mongodbUrl } = testEnv();
  const namespace = `obs${randomBytes(6).toString('hex')}`;
  for (const name of ['payment', 'order', 'inventory', 'shipping', 'admin'] as const) {
    const config = loadServiceConfig(name, {
      KAFKA_BROKERS: kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: schemaRegistryUrl,
      MONGODB_URL: mongodbUrl,
      SAGAFLOW_NAMESPACE: namespace,
      ADMIN_TOKEN: token,
      PORT: '0',
    });
    const logger = createLogger({ service: `${name}-service`, level: 'debug', destination: sink });
    const service = await buildReferenceService(config, realAdapters(config.servers!), { logger });
    const started = await listen(service, config);
    running.push(started);
    urls[name] = `http://127.0.0.1:${started.port}`;
  }
}, 180_000);

afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
  await tracing?.shutdown();
});

/** The sum of a metric's samples whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string | RegExp> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have: Record<string, string> = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m): [string, string] => [
        m[1]!,
        m[2]!,
      ]),
    );
    const fits = Object.entries(labels).every(([k, v]) =>
      typeof v === 'string' ? have[k] === v : v.test(have[k] ?? ''),
    );
    if (!fits) continue;
    found = true;
    sum += Number(match[3]);
  }
  return found ? sum : Number.NaN;
}

const scrape = async (service: ServiceName) => {
  const response = await fetch(`${urls[service]}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  return response.text();
};

describe('observability of a saga through the reference services', () => {
  let sagaId: string;
  let orderId: string;
  const customer = `c-${randomBytes(4).toString('hex')}`;
  const callerTrace = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  const caller = `00-${callerTrace}-${callerSpan}-01`;

  beforeAll(async () => {
    const client = new ReferenceClient(urls);
    await client.setStock('obs-sku', 100);
    await client.setCredit(customer, 1_000);
    // The caller is traced too: its traceparent header makes the saga part of its trace.
    const response = await fetch(`${urls.order}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: caller },
      body: JSON.stringify({
        customerId: customer,
        items: [{ sku: 'obs-sku', quantity: 2, unitPrice: 10 }],
        mode: 'choreography',
      }),
    });
    expect(response.status).toBe(202);
    const placed = (await response.json()) as { orderId: string; sagaId: string };
    sagaId = placed.sagaId;
    orderId = placed.orderId;
    await waitFor(async () => (await client.order(orderId)).status === 'APPROVED', {
      timeoutMs: 60_000,
      description: `order ${orderId} to be approved`,
    });
  }, 90_000);

  it("makes one connected trace from the caller's request, with consumer spans in four services", async () => {
    const place = await waitFor(
      () =>
        exporter
          .getFinishedSpans()
          .find(
            (s) =>
              s.attributes[spanAttributes.sagaId] === sagaId &&
              s.attributes[spanAttributes.command] === 'Place',
          ),
      { timeoutMs: 10_000, description: 'the span of the Place command' },
    );
    const traceId = place.spanContext().traceId;
    expect(traceId).toBe(callerTrace);
    const inTrace = (): ReadableSpan[] =>
      exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // Consumer spans that handled a message (not the ones that skipped a type they ignore).
    const consumersIn = (spans: ReadableSpan[]) =>
      new Set(
        spans
          .filter(
            (s) =>
              s.kind === SpanKind.CONSUMER && s.attributes[spanAttributes.outcome] === 'handled',
          )
          .map((s) => s.attributes[spanAttributes.service]),
      );
    const connected = (spans: ReadableSpan[]) => {
      const ids = new Set(spans.map((s) => s.spanContext().spanId));
      return spans.every(
        (s) =>
          ids.has(s.parentSpanContext?.spanId ?? 'none') ||
          s.parentSpanContext?.spanId === callerSpan,
      );
    };
    // Spans are exported when they end: wait until the last step's spans are all in.
    const spans = await waitFor(
      () => {
        const found = inTrace();
        return consumersIn(found).size >= 4 && connected(found) ? found : undefined;
      },
      { timeoutMs: 20_000, description: 'a connected trace through four services' },
    );
    const services = consumersIn(spans);
    expect([...services].sort()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/inventory-service$/),
        expect.stringMatching(/payment-service$/),
        expect.stringMatching(/shipping-service$/),
        expect.stringMatching(/order-service$/),
      ]),
    );
    // Connected: one span starts from the caller's (the HTTP request's server span), every other
    // span's parent is in the trace, the Place command's being the request's.
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    const roots = spans.filter((s) => !ids.has(s.parentSpanContext?.spanId ?? 'none'));
    expect(roots).toHaveLength(1);
    const request = roots[0]!;
    expect(request.parentSpanContext?.spanId).toBe(callerSpan);
    expect(request.kind).toBe(SpanKind.SERVER);
    expect(request.name).toBe('POST /orders');
    expect(request.attributes['http.response.status_code']).toBe(202);
    expect(place.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    // A consumer span says where the message came from, and its parent is a producer span.
    const consumer = spans.find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(consumer.attributes).toMatchObject({
      [spanAttributes.system]: 'kafka',
      [spanAttributes.sagaId]: sagaId,
    });
    expect(consumer.attributes[spanAttributes.destination]).toEqual(expect.any(String));
    expect(consumer.attributes[spanAttributes.partition]).toEqual(expect.any(String));
    expect(consumer.attributes[spanAttributes.offset]).toEqual(expect.any(String));
    const parent = spans.find(
      (s) => s.spanContext().spanId === consumer.parentSpanContext!.spanId,
    )!;
    expect(parent.kind).toBe(SpanKind.PRODUCER);
    expect(
      spans.some(
        (s) => s.kind === SpanKind.INTERNAL && s.attributes[spanAttributes.entityId] !== undefined,
      ),
    ).toBe(true);
  });

  it('moves the metrics of every service', async () => {
    const order = await scrape('order');
    expect(
      sample(order, 'sagaflow_commands_total', { command: 'Place', outcome: 'committed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(order, 'sagaflow_events_published_total', { type: 'OrderCreated' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(order, 'sagaflow_outbox_pending')).toBeGreaterThanOrEqual(0);
    expect(sample(order, 'sagaflow_outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(
      sample(order, 'sagaflow_consumer_lag', { group: /order-service/ }),
    ).toBeGreaterThanOrEqual(0);
    expect(sample(order, 'sagaflow_loop_restarts_total')).toBeNaN(); // none so far: no sample

    const inventory = await scrape('inventory');
    expect(
      sample(inventory, 'sagaflow_events_consumed_total', {
        type: 'OrderCreated',
        outcome: 'handled',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(inventory, 'sagaflow_handler_duration_seconds_count', { type: 'OrderCreated' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(inventory, 'sagaflow_events_published_total')).toBeGreaterThanOrEqual(1);

    // The admin's tracker: the saga counted as completed, with its duration (the saga gauges are
    // read from the store at most once per 5 s, whatever the scrapes).
    const admin = await waitFor(
      async () => {
        const text = await scrape('admin');
        return sample(text, 'sagaflow_saga_duration_seconds_count', { status: 'completed' }) >= 1 &&
          sample(text, 'sagaflow_sagas', { status: 'completed' }) >= 1
          ? text
          : undefined;
      },
      { timeoutMs: 30_000, description: 'the completed saga in the admin metrics' },
    );
    expect(
      sample(admin, 'sagaflow_saga_duration_seconds_sum', { status: 'completed' }),
    ).toBeGreaterThan(0);
    // Every event of the saga went through the tracker, each with its lag.
    expect(sample(admin, 'sagaflow_tracker_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(admin, 'sagaflow_tracker_lag_seconds_sum')).toBeGreaterThan(0);
    expect(sample(admin, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('logs lines about its messages with saga, event and trace ids, and redacts sensitive fields', async () => {
    const about = await waitFor(
      () => {
        const found = lines.filter(
          (l) => l['sagaId'] === sagaId && l['msg'] === 'OrderCreated received',
        );
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 10_000, description: 'a log line about the OrderCreated event' },
    );
    const line = about[0]!;
    expect(line['service']).toMatch(/-service$/);
    expect(line['eventId']).toMatch(/^[0-9a-f-]{36}$/);
    expect(line['traceId']).toMatch(/^[0-9a-f]{32}$/);
    expect(line['level']).toBe(20);
    // customerId is "sensitive": true in OrderCreated.avsc.
    expect(line['payload']).toMatchObject({ customerId: '[REDACTED]', orderId });
    // No payload of any line shows the customer id (it appears only as the customer entity's id).
    expect(JSON.stringify(lines.map((l) => l['payload']))).not.toContain(customer);
    const handled = lines.find((l) => l['sagaId'] === sagaId && l['outcome'] === 'handled');
    // A processor's group, or a view's (`<service>.view.<name>.v<version>`).
    expect(handled?.['group']).toMatch(/-service\.(\w+|view\.[a-z-]+\.v\d+)$/);
    expect(handled?.['topic']).toMatch(/\.events$/);
  });
});
