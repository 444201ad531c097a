import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { contextOf, spanAttributes } from '@sagaflow/core';

/** The parts of an HTTP request and response the middleware reads (express's fit). */
interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly route?: unknown;
  header(name: string): string | undefined;
}
interface HttpResponse {
  readonly statusCode: number;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/**
 * Express middleware: a server span per request, the child of the caller's W3C `traceparent`
 * header when it sends one, active while the route runs, so that the commands a route sends are
 * its children and a saga's trace starts at the request that placed it. A no-op without a
 * registered SDK (see {@link startTracing}).
 */
export function httpTracing(service: string) {
  const tracer = trace.getTracer('@sagaflow/observability');
  return (req: HttpRequest, res: HttpResponse, next: () => void): void => {
    const parent = contextOf(req.header('traceparent'));
    const span = tracer.startSpan(
      `${req.method} ${req.path}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [spanAttributes.service]: service,
          'http.request.method': req.method,
          'url.path': req.path,
        },
      },
      parent,
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route !== undefined) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(trace.setSpan(parent, span), next);
  };
}
