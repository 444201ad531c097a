import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { inSpan, noMetrics, producedSpan, spanAttributes, SpanKind } from '@sagaflow/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  createLogger,
  otlpTracesUrl,
  PrometheusMetrics,
  startTracing,
  watchSagas,
  watchService,
} from '../src/index.js';

describe('tracing', () => {
  it('is off without an OTLP address or an exporter', async () => {
    const tracing = startTracing({ serviceName: 'svc', env: {} });
    expect(tracing.enabled).toBe(false);
    await tracing.shutdown();
  });

  it('reads the OTLP address from the standard variables and refuses a bad one, naming it', () => {
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      otlpTracesUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/traces',
      }),
    ).toBe('http://other:4318/traces');
    expect(otlpTracesUrl({})).toBeUndefined();
    expect(otlpTracesUrl({}, 'https://x:4318/v1/traces')).toBe('https://x:4318/v1/traces');
    expect(() => otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL \(got 'collector:4318'\)/,
    );
    expect(() => startTracing({ serviceName: '' })).toThrow(/serviceName/);
  });

  it('makes a producer span the parent of the consumer span of the message it sent', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ serviceName: 'svc', exporter });
    try {
      let traceparent = '';
      await inSpan('command', { kind: SpanKind.INTERNAL, attributes: () => ({}) }, async () => {
        traceparent = producedSpan(
          'topic publish',
          () => ({ [spanAttributes.eventType]: 'E' }),
          undefined,
        );
        await Promise.resolve();
      });
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      // Another process: the consumer span starts from the header, not from what is active.
      await inSpan(
        'topic process',
        { kind: SpanKind.CONSUMER, attributes: () => ({}), traceparent, remote: true },
        async (span) => {
          expect(span.spanContext().traceId).toBe(traceparent.slice(3, 35));
          await Promise.resolve();
        },
      );
      const spans = exporter.getFinishedSpans();
      const byName = (name: string) => spans.find((s) => s.name === name)!;
      expect(byName('topic publish').parentSpanContext?.spanId).toBe(
        byName('command').spanContext().spanId,
      );
      expect(byName('topic process').parentSpanContext?.spanId).toBe(
        byName('topic publish').spanContext().spanId,
      );
      expect(byName('topic publish').kind).toBe(SpanKind.PRODUCER);
    } finally {
      await tracing.shutdown();
    }
    // After shutdown spans are no-ops again, and a traceparent is still made up.
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(producedSpan('x', () => ({}), undefined)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('exports spans by OTLP/HTTP when an address is configured', async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const tracing = startTracing({
      serviceName: 'otlp-svc',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
    });
    try {
      expect(tracing.enabled).toBe(true);
      await inSpan('exported-span', { kind: SpanKind.INTERNAL, attributes: () => ({}) }, () =>
        Promise.resolve(),
      );
      await tracing.forceFlush();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toMatch(/^POST \/v1\/traces /);
      expect(bodies[0]).toContain('exported-span');
      expect(bodies[0]).toContain('otlp-svc');
    } finally {
      await tracing.shutdown();
      server.close();
    }
  });

  it('marks a span failed when its work throws, and rethrows', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ serviceName: 'svc', exporter });
    try {
      await expect(
        inSpan('failing', { kind: SpanKind.INTERNAL, attributes: () => ({}) }, () =>
          Promise.reject(new Error('boom')),
        ),
      ).rejects.toThrow('boom');
      expect(exporter.getFinishedSpans()[0]?.status).toMatchObject({ code: 2, message: 'boom' });
    } finally {
      await tracing.shutdown();
    }
  });
});

describe('metrics', () => {
  it('counts and times what the framework reports', async () => {
    const registry = new Registry();
    const metrics = new PrometheusMetrics(registry);
    metrics.commandHandled(
      { entityType: 'shop.order', command: 'Place', outcome: 'committed' },
      0.02,
    );
    metrics.messageHandled({ group: 'g', topic: 't', type: 'E', outcome: 'handled' }, 0.01);
    metrics.messageRetried({ group: 'g', type: 'E' });
    metrics.messageWaiting({ group: 'g', code: 'UNKNOWN_WORKFLOW' }, 1);
    metrics.messageWaiting({ group: 'g', code: 'SERDE_FAILED' }, 1);
    metrics.messageWaiting({ group: 'g', code: 'SERDE_FAILED' }, -1);
    metrics.deadLettered({ group: 'g', type: 'E', code: 'SERDE_FAILED' });
    metrics.published(['E', 'E', 'F']);
    metrics.loopRestarted('relay');
    metrics.consumerRestarted({ group: 'g' });
    metrics.sagaEnded({ type: 'order', status: 'completed' }, 1.5);
    metrics.eventTracked(0.3);
    const text = await registry.metrics();
    expect(text).toContain('sagaflow_tracker_lag_seconds_bucket{le="0.25"} 0');
    expect(text).toContain('sagaflow_tracker_lag_seconds_bucket{le="0.5"} 1');
    expect(text).toContain(
      'sagaflow_commands_total{entity_type="shop.order",command="Place",outcome="committed"} 1',
    );
    expect(text).toContain('sagaflow_events_published_total{type="E"} 2');
    expect(text).toContain('sagaflow_events_published_total{type="F"} 1');
    expect(text).toContain(
      'sagaflow_events_dead_lettered_total{group="g",type="E",code="SERDE_FAILED"} 1',
    );
    expect(text).toContain('sagaflow_handler_retries_total{group="g",type="E"} 1');
    expect(text).toContain('sagaflow_messages_waiting{group="g",code="UNKNOWN_WORKFLOW"} 1');
    expect(text).toContain('sagaflow_messages_waiting{group="g",code="SERDE_FAILED"} 0');
    expect(text).toContain('sagaflow_loop_restarts_total{loop="relay"} 1');
    expect(text).toContain('sagaflow_consumer_restarts_total{group="g"} 1');
    expect(text).toContain(
      'sagaflow_saga_duration_seconds_sum{type="order",status="completed"} 1.5',
    );
    expect(text).toContain(
      'sagaflow_handler_duration_seconds_count{group="g",topic="t",type="E",outcome="handled"} 1',
    );
    expect(Object.keys(noMetrics)).toEqual(
      expect.arrayContaining(['commandHandled', 'messageHandled', 'published']),
    );
  });

  it('reads gauges at scrape time, and counts a failed read instead of failing the scrape', async () => {
    const registry = new Registry();
    let fail = false;
    // Read afresh at each scrape here (maxAgeMs 0).
    watchService(
      registry,
      () =>
        fail
          ? Promise.reject(new Error('database away'))
          : Promise.resolve({
              outbox: [{ entityType: 'shop.order', pending: 3, oldestAgeSeconds: 4.5 }],
              lag: [{ group: 'svc.p', topic: 'shop.order.events', partition: 1, lag: 7 }],
            }),
      { maxAgeMs: 0 },
    );
    watchSagas(
      registry,
      {
        counts: () =>
          Promise.resolve([
            { type: 'order', status: 'completed', count: 5 },
            { type: 'order', status: 'stuck', count: 2 },
          ]),
      },
      { maxAgeMs: 0 },
    );
    let text = await registry.metrics();
    expect(text).toContain('sagaflow_outbox_pending{entity_type="shop.order"} 3');
    expect(text).toContain(
      'sagaflow_outbox_oldest_pending_age_seconds{entity_type="shop.order"} 4.5',
    );
    expect(text).toContain(
      'sagaflow_consumer_lag{group="svc.p",topic="shop.order.events",partition="1"} 7',
    );
    expect(text).toContain('sagaflow_sagas{type="order",status="completed"} 5');
    expect(text).toContain('sagaflow_sagas_stuck{type="order"} 2');
    fail = true;
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The counter is written beside the gauges in one scrape: the failure shows in the next one.
    text = await registry.metrics();
    expect(text).toContain('sagaflow_outbox_pending{entity_type="shop.order"} 3');
    await new Promise((resolve) => setTimeout(resolve, 5));
    text = await registry.metrics();
    expect(text).toContain('sagaflow_scrape_errors_total{source="service"} 1');
  });
});

describe('scraped gauges', () => {
  it('answer a burst of scrapes from one reading, and refuse a bad maxAgeMs', async () => {
    const registry = new Registry();
    let reads = 0;
    watchService(registry, () => {
      reads += 1;
      return Promise.resolve({ outbox: [], lag: [] });
    });
    await Promise.all([registry.metrics(), registry.metrics(), registry.metrics()]);
    await registry.metrics();
    expect(reads).toBe(1);
    expect(() =>
      watchSagas(new Registry(), { counts: () => Promise.resolve([]) }, { maxAgeMs: -1 }),
    ).toThrow('maxAgeMs must be a number ≥ 0 (got -1)');
  });
});

describe('logger', () => {
  it('writes JSON lines with the service, censors credentials, and refuses a bad level', () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ service: 'order-service', level: 'debug', destination });
    logger.debug(
      { sagaId: 's-1', token: 'secret-token', headers: { authorization: 'Bearer x' } },
      'hello',
    );
    expect(lines[0]).toMatchObject({
      service: 'order-service',
      sagaId: 's-1',
      token: '[REDACTED]',
      headers: { authorization: '[REDACTED]' },
      msg: 'hello',
      level: 20,
    });
    expect(() => createLogger({ service: 's', level: 'loud' as 'info' })).toThrow(
      /level must be one of silent, fatal, error, warn, info, debug, trace \(got 'loud'\)/,
    );
  });
});
