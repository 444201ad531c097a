import { errorHandler, shownReadiness } from '@sagaflow/admin';
import { httpTracing } from '@sagaflow/observability';
import express, { type Express } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** What `GET /readyz` reports. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, unknown>>;
}

/** What `GET /healthz` reports: false once the process should be replaced. */
export interface LivenessReport {
  readonly alive: boolean;
  /** Why not, when not. */
  readonly reason?: string;
}

/**
 * The HTTP app every service starts from: JSON bodies, `GET /healthz` (200 while the process is
 * alive; 503 once its liveness says it should be replaced, for Kubernetes' liveness probe),
 * `GET /readyz` (503 until the service and its servers are ready), `GET /metrics`
 * (Prometheus: the process's figures and the HTTP requests by route and status), and a server
span per request (the child of the caller's `traceparent`, when tracing is on). Routes are added
 * by `routes`; errors become `{ error: { code, message, field? } }` with their status.
 */
export function serviceApp(options: {
  readonly service: string;
  readonly readiness: () => Promise<ReadinessReport>;
  readonly routes: (app: Express) => void;
  readonly registry?: Registry;
  /** Whether the process is still alive (see `LivenessWatchdog`). @default always alive */
  readonly liveness?: () => LivenessReport;
}): { app: Express; registry: Registry } {
  const registry = options.registry ?? new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(httpTracing(options.service));
  app.use((req, res, next) => {
    const end = durations.startTimer();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  });
  app.use(express.json({ limit: '64kb' }));
  app.get('/healthz', (_req, res) => {
    const liveness = options.liveness?.() ?? { alive: true };
    if (liveness.alive) res.json({ status: 'ok', service: options.service });
    else
      res.status(503).json({ status: 'dead', service: options.service, reason: liveness.reason });
  });
  app.get('/readyz', async (_req, res) => {
    const report = await options.readiness().catch((error: unknown): ReadinessReport => ({
      ready: false,
      checks: {
        service: { ok: false, error: error instanceof Error ? error.message : String(error) },
      },
    }));
    res.status(report.ready ? 200 : 503).json(shownReadiness(report));
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  options.routes(app);
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  });
  app.use(errorHandler);
  return { app, registry };
}
