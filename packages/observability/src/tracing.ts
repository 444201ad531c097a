import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { invalidArgument } from '@sagaflow/core';

/** Options of {@link startTracing}. */
export interface TracingOptions {
  /** `service.name` of the spans, e.g. `order-service`. */
  readonly serviceName: string;
  /**
   * Where spans go by OTLP/HTTP, e.g. `http://127.0.0.1:4318/v1/traces`.
   * @default `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else none
   */
  readonly otlpUrl?: string;
  /** An exporter of your own (tests give an `InMemorySpanExporter`): spans go there at once. */
  readonly exporter?: SpanExporter;
  /** The environment read for the OTLP address. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** Started tracing: flush it before the process ends. */
export interface Tracing {
  /** False when neither an OTLP address nor an exporter was given: spans are no-ops. */
  readonly enabled: boolean;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The OTLP traces address: `given`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; undefined when none is set. A value that is not
 * an http(s) URL throws INVALID_ARGUMENT naming where it came from.
 */
export function otlpTracesUrl(env: NodeJS.ProcessEnv, given?: string): string | undefined {
  const source: [string, string, string] | undefined =
    given !== undefined
      ? ['otlpUrl', given, '']
      : env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']
        ? ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'], '']
        : env['OTEL_EXPORTER_OTLP_ENDPOINT']
          ? ['OTEL_EXPORTER_OTLP_ENDPOINT', env['OTEL_EXPORTER_OTLP_ENDPOINT'], '/v1/traces']
          : undefined;
  if (source === undefined) return undefined;
  const [name, value, suffix] = source;
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw invalidArgument(name, `must be an http(s) URL (got '${value}')`);
  }
  return `${value.replace(/\/+$/, '')}${suffix}`;
}

/**
 * Registers the OpenTelemetry SDK for this process: an async-local context (so that a span is
 * the parent of the work done inside it) and a tracer provider exporting by OTLP/HTTP. Off by
 * default: without an OTLP address or an exporter nothing is registered and every span of
 * sagaflow stays a no-op (events still carry a `traceparent` for the logs' trace ids).
 *
 * The kafkajs instrumentation is not used: sagaflow makes its own producer span when an event is
 * committed (the relay publishes it later, from another context) and its own consumer span per
 * message, linked by the `traceparent` header it sets itself.
 */
export function startTracing(options: TracingOptions): Tracing {
  if (typeof options.serviceName !== 'string' || options.serviceName === '') {
    throw invalidArgument('serviceName', 'must be a non-empty string');
  }
  const url =
    options.exporter === undefined
      ? otlpTracesUrl(options.env ?? process.env, options.otlpUrl)
      : undefined;
  if (options.exporter === undefined && url === undefined) {
    return { enabled: false, forceFlush: async () => {}, shutdown: async () => {} };
  }
  const processor =
    options.exporter === undefined
      ? new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: url! }) })
      : new SimpleSpanProcessor({ exporter: options.exporter });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
