import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { childTraceparent, parseTraceparent } from './trace-context.js';

/**
 * Tracing, logging and metrics hooks of the framework. Tracing goes through the OpenTelemetry
 * API: without a registered SDK every span is a no-op (and events still carry a `traceparent`,
 * made up from the parent's trace id); with one (see `@sagaflow/observability`), a span per
 * command handled, per event produced and per event consumed, linked across services by the
 * `traceparent` header, so that a saga is one trace.
 */
const tracer = () => trace.getTracer('@sagaflow/core');

/** The context of a remote parent given as a W3C `traceparent`, or the root context. */
export function contextOf(traceparent: string | undefined): Context {
  const parsed = parseTraceparent(traceparent);
  if (parsed === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags: parseInt(parsed.flags, 16),
    isRemote: true,
  });
}

/**
 * The `traceparent` to hand on for work caused by `span`: the span's own when it records (an SDK
 * is registered), otherwise a child of `fallbackParent` (same trace id, new span id).
 */
export function traceparentOf(span: Span, fallbackParent: string | undefined): string {
  const spanContext = span.spanContext();
  if (!span.isRecording() || !trace.isSpanContextValid(spanContext)) {
    return childTraceparent(fallbackParent);
  }
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED) === 0 ? '00' : '01';
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The parent of a span: the active span if there is one, else the remote `traceparent`. */
function parentContext(traceparent: string | undefined): Context {
  const active = context.active();
  const spanContext = trace.getSpanContext(active);
  return spanContext !== undefined && trace.isSpanContextValid(spanContext)
    ? active
    : contextOf(traceparent);
}

/**
 * Runs `work` inside a new span and ends it with the outcome; a thrown error marks the span as
 * failed and is rethrown. Attributes and links are built only when the span records (an SDK is
 * registered), so that a message costs no allocation for them when tracing is off.
 */
export async function inSpan<T>(
  name: string,
  options: {
    readonly kind: SpanKind;
    readonly attributes: () => Attributes;
    /** The remote parent, used when no span is active. */
    readonly traceparent?: string | undefined;
    /** Start from this parent even when a span is active (a message from another process). */
    readonly remote?: boolean;
    readonly links?: () => Link[];
  },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent =
    options.remote === true ? contextOf(options.traceparent) : parentContext(options.traceparent);
  const span = tracer().startSpan(name, { kind: options.kind }, parent);
  if (span.isRecording()) {
    span.setAttributes(options.attributes());
    if (options.links !== undefined) span.addLinks(options.links());
  }
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Starts (and ends at once) the producer span of an event written to the outbox, as a child of
 * the active span; returns the event's `traceparent`, which links its consumers to this span.
 */
export function producedSpan(
  name: string,
  attributes: () => Attributes,
  fallbackParent: string | undefined,
): string {
  const span = tracer().startSpan(name, { kind: SpanKind.PRODUCER }, parentContext(fallbackParent));
  if (span.isRecording()) span.setAttributes(attributes());
  const traceparent = traceparentOf(span, fallbackParent);
  span.end();
  return traceparent;
}

/** A link to the span of a `traceparent` (the relay links its batch to each event's producer). */
export function linkTo(traceparent: string | undefined): Link | undefined {
  const spanContext = trace.getSpanContext(contextOf(traceparent));
  return spanContext === undefined ? undefined : { context: spanContext };
}

/** Attribute names of sagaflow's spans (and the messaging ones of OpenTelemetry). */
export const spanAttributes = {
  service: 'sagaflow.service',
  sagaId: 'sagaflow.saga.id',
  entityType: 'sagaflow.entity.type',
  entityId: 'sagaflow.entity.id',
  command: 'sagaflow.command',
  eventId: 'sagaflow.event.id',
  eventType: 'sagaflow.event.type',
  outcome: 'sagaflow.outcome',
  group: 'messaging.consumer.group.name',
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operation: 'messaging.operation.type',
  partition: 'messaging.destination.partition.id',
  offset: 'messaging.kafka.offset',
  messageId: 'messaging.message.id',
  messageKey: 'messaging.kafka.message.key',
  batchSize: 'messaging.batch.message_count',
} as const;

export { SpanKind };
