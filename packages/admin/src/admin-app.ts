import {
  awaitedOf,
  consumerLag,
  invalidArgument,
  isEnded,
  isWorkflowTimeline,
  replayTopic,
  SagaflowError,
  type WorkflowControl,
  type AuditLog,
  type DeadLetterRecord,
  type DeadLetterStore,
  type EventSerde,
  type MessagePublisher,
  type OffsetReader,
  type Readiness,
  type SagaView,
  type SagaViewStore,
} from '@sagaflow/core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { watchSagas } from '@sagaflow/observability';
import { shownReadiness } from './readiness.js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { z } from 'zod';
import { authenticate, callerOf, requireOperator, type Credential } from './auth.js';
import { errorHandler, HttpError, parseInput as parse } from './http-errors.js';

/** Options of {@link createAdminApp}. */
export interface AdminOptions {
  readonly views: SagaViewStore;
  readonly audit: AuditLog;
  /** Records an operator's compensation request and returns the refreshed view (the tracker's). */
  readonly requestCompensation: (
    sagaId: string,
    request: { at: string; by: string; reason: string },
  ) => Promise<SagaView | undefined>;
  /**
   * Whether the process is still alive; `GET /healthz` answers 503 once it is not (the runtime's
   * liveness watchdog). @default always alive
   */
  readonly liveness?: () => { readonly alive: boolean; readonly reason?: string };
  /** Readiness of what the admin service depends on. */
  readonly readiness: () => Promise<
    Readiness | { ready: boolean; checks: Record<string, unknown> }
  >;
  /**
   * The bearer token every route but the health checks requires. Without one the app refuses to
   * start unless `allowNoToken` (development only).
   */
  readonly token: string | undefined;
  /**
   * Tokens of named operators (name → token): the audit log records the name a token proves,
   * whatever `X-Operator` says (with the shared `token`, it records the name the caller gives).
   * @default none
   */
  readonly operatorTokens?: Readonly<Record<string, string>>;
  /**
   * A token that may read everything (sagas, dead letters, metrics) and act on nothing: acting
   * with it is refused (403 `READ_ONLY`) and the refusal recorded. @default none
   */
  readonly readToken?: string;
  /** @default false */
  readonly allowNoToken?: boolean;
  /** Clock, for tests. @default () => new Date() */
  readonly clock?: () => Date;
  /**
   * Sends operator commands to orchestrated workflows (retry, and compensate = cancel); without
   * it those routes answer 404 for workflows. @default none
   */
  readonly workflowControl?: Pick<WorkflowControl, 'retry' | 'cancel'>;
  /**
   * The dead-letter index and where replays are published; without them the routes answer 404.
   * A letter is shown without its bytes: with `serde`, its payload decoded and with the fields
   * its schema marks sensitive redacted (`payload`), else nothing of it.
   */
  readonly deadLetters?: {
    readonly store: DeadLetterStore;
    readonly publisher: MessagePublisher;
    readonly serde?: Pick<EventSerde, 'decode' | 'redact'>;
  };
  /**
   * Where `GET /metrics` reads from; the saga gauges are added to it. Give the registry of the
   * service's `PrometheusMetrics` so that one scrape has everything.
   * @default a registry of its own, with the process metrics prefixed `sagaflow_admin_`
   */
  readonly registry?: Registry;
  /**
   * The consumer groups whose lag `GET /lag` shows (views, the tracker, the dead-letter index),
   * read from `offsets` (the bus); without it the route answers 404. @default none
   */
  readonly lag?: { readonly offsets: OffsetReader; readonly readers: readonly LagReader[] };
}

/** A consumer group whose lag the admin shows: a view's, the tracker's, the dead-letter index's. */
export interface LagReader {
  readonly group: string;
  readonly topics: readonly string[];
  /** What reads: `view`, `tracker`, `dead-letters`, … */
  readonly kind: string;
  /** What it is called where it runs, e.g. the view's name. @default the group */
  readonly name?: string;
  /** The service it runs in. @default none */
  readonly service?: string;
}

/** How long one reading of the consumer groups' lag is served to every caller. */
const LAG_TTL_MS = 2000;

/** The admin web page's files. */
export const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../ui');

const STATUSES = [
  'running',
  'completed',
  'compensating',
  'compensated',
  'failed',
  'stuck',
] as const;
const ENDED_STATUSES = ['completed', 'compensated', 'failed'] as const;

const isoTime = (field: string) =>
  z.string().refine((v) => !Number.isNaN(Date.parse(v)), `${field} must be an ISO-8601 time`);

/** Page size of list routes. */
const pageSize = z.coerce
  .number({ error: 'limit must be a number' })
  .int('limit must be an integer')
  .min(1, 'limit must be between 1 and 200')
  .max(200, 'limit must be between 1 and 200')
  .optional();

const listQuery = z.strictObject({
  status: z.enum(STATUSES, { error: `status must be one of ${STATUSES.join(', ')}` }).optional(),
  type: z.string().min(1).max(100).optional(),
  since: isoTime('since').optional(),
  until: isoTime('until').optional(),
  q: z.string().min(1).max(200).optional(),
  cursor: z.string().min(1).max(500).optional(),
  limit: pageSize,
});

const deadLetterQuery = z.strictObject({
  topic: z.string().min(1).max(249).optional(),
  cursor: z.string().min(1).max(500).optional(),
  limit: pageSize,
});

const auditQuery = z.strictObject({
  target: z.string().min(1).max(200).optional(),
  limit: pageSize,
});

const compensateBody = z.strictObject({
  reason: z
    .string({ error: 'reason must be a string' })
    .trim()
    .min(1, 'reason must not be empty')
    .max(500, 'reason must be at most 500 characters'),
});

const SAGA_ID = /^[\w.:@-]{1,200}$/;

function sagaIdOf(req: Request): string {
  const id = String(req.params['id']);
  if (!SAGA_ID.test(id)) throw new HttpError(400, 'INVALID_ARGUMENT', 'id must be a saga id', 'id');
  return id;
}

const summary = ({ timeline, ...view }: SagaView) => ({ ...view, events: timeline.length });

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Every view, page by page (for stats), up to a bound. */
/** Ended sagas of a type whose durations the percentiles are taken from (the latest ones). */
const DURATIONS_SAMPLED = 1_000;
/** How long one answer of `/sagas/stats` is served again (each open page asks every 3 s). */
const STATS_TTL_MS = 2_000;

/**
 * The admin API: sagas (list, detail, stats, compensate, retry), health, readiness and Prometheus
 * metrics. Every route but `/healthz` and `/readyz` requires the bearer token; operator actions
 * go to the audit log; bad input gets a 400 naming the field.
 */
/** What an audit entry says of an error: its HTTP status and code. */
function codeOf(error: unknown): Record<string, string | number> {
  if (error instanceof HttpError) return { status: error.status, code: error.code };
  if (error instanceof SagaflowError) return { code: error.code };
  return { code: 'INTERNAL' };
}

/** The credentials the options give, checked: every token non-empty and different. */
function credentialsOf(options: AdminOptions): Credential[] {
  const credentials: Credential[] = [];
  if (options.token !== undefined && options.token !== '') {
    credentials.push({ token: options.token, name: 'operator', mayOperate: true, named: false });
  }
  for (const [name, token] of Object.entries(options.operatorTokens ?? {})) {
    if (!/^[\w.@-]{1,100}$/.test(name)) {
      throw invalidArgument(
        'operatorTokens',
        `names '${name}': use 1 to 100 letters, digits, '.', '@', '_' or '-'`,
      );
    }
    if (typeof token !== 'string' || token === '') {
      throw invalidArgument(`operatorTokens.${name}`, 'must be a non-empty token');
    }
    credentials.push({ token, name, mayOperate: true, named: true });
  }
  if (options.readToken !== undefined && options.readToken !== '') {
    credentials.push({ token: options.readToken, name: 'reader', mayOperate: false, named: false });
  }
  const tokens = credentials.map((c) => c.token);
  if (new Set(tokens).size !== tokens.length) {
    throw invalidArgument('token', 'each token must be different from the others');
  }
  return credentials;
}

/** The operator routes, and what their audit entries are named. */
const OPERATOR_ROUTE = /^\/(sagas|dead-letters)\/([^/]+)\/(compensate|retry|replay)$/;

export function createAdminApp(options: AdminOptions): express.Express {
  const credentials = credentialsOf(options);
  if (!credentials.some((c) => c.mayOperate) && options.allowNoToken !== true) {
    throw invalidArgument(
      'token',
      'must be set (ADMIN_TOKEN); an admin API without a token is for development only',
    );
  }
  const clock = options.clock ?? (() => new Date());
  const app = express();
  app.disable('x-powered-by');

  const registry = options.registry ?? new Registry();
  if (options.registry === undefined) {
    collectDefaultMetrics({ register: registry, prefix: 'sagaflow_admin_' });
  }
  watchSagas(registry, options.views);

  // The page itself is public; everything it shows comes from the API, behind the token.
  app.use('/ui', express.static(uiDir, { index: 'index.html' }));
  app.get('/', (_req, res) => res.redirect('/ui/'));

  app.get('/healthz', (_req, res) => {
    const liveness = options.liveness?.() ?? { alive: true };
    if (liveness.alive) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'dead', reason: liveness.reason });
  });
  app.get('/readyz', async (_req, res) => {
    const readiness = await options.readiness();
    res.status(readiness.ready ? 200 : 503).json(shownReadiness(readiness));
  });

  if (credentials.length > 0) app.use(authenticate(credentials));
  // Bodies are read only from a caller who holds a token; acting needs an operator's.
  app.post(OPERATOR_ROUTE, requireOperator);
  app.use(express.json({ limit: '16kb' }));

  /** Who acts, for the audit log: the name a named token proves, else the name the caller gives. */
  const actorOf = (req: Request, res: Response) => {
    const caller = callerOf(res);
    const claimed = req.header('x-operator')?.slice(0, 100);
    if (caller?.named === true) return { by: caller.name, claimed };
    return { by: claimed || caller?.name || 'operator', claimed: undefined };
  };

  /**
   * Runs an operator action between two audit entries: the intent before it (nothing is done
   * unless it is recorded), then what came of it: done, refused (an answer of 4xx) or failed.
   */
  const audited = async <T>(
    req: Request,
    res: Response,
    entry: { action: string; target: string; details: Record<string, string> },
    act: (actor: { at: string; by: string }) => Promise<T>,
  ): Promise<T> => {
    const { by, claimed } = actorOf(req, res);
    const base = {
      action: entry.action,
      target: entry.target,
      by,
      address: req.ip ?? '',
      details: {
        ...entry.details,
        credential: callerOf(res)?.name ?? 'none',
        ...(claimed === undefined || claimed === by ? {} : { claimed }),
      },
    };
    const at = clock().toISOString();
    await options.audit.record({ ...base, at, outcome: 'requested' });
    res.locals['audited'] = true;
    try {
      const answer = await act({ at, by });
      await options.audit.record({ ...base, at: clock().toISOString(), outcome: 'done' });
      return answer;
    } catch (error) {
      const refused = error instanceof HttpError && error.status < 500;
      await options.audit
        .record({
          ...base,
          at: clock().toISOString(),
          outcome: refused ? 'refused' : 'failed',
          details: { ...base.details, ...codeOf(error) },
        })
        .catch(() => {});
      throw error;
    }
  };

  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });

  // How far behind each reader is (a view, the tracker): what the page shows is as of then.
  let lag: { readonly at: number; readonly body: Promise<unknown> } | undefined;
  app.get('/lag', async (_req, res) => {
    const source = options.lag;
    if (source === undefined) {
      throw new HttpError(404, 'NOT_FOUND', 'this admin service reads no consumer group lag');
    }
    const now = clock().getTime();
    if (lag === undefined || now - lag.at >= LAG_TTL_MS || now < lag.at) {
      const at = clock().toISOString();
      const body = consumerLag(source.offsets, source.readers).then((entries) => ({
        at,
        readers: source.readers.map((reader) => {
          const partitions = entries
            .filter((e) => e.group === reader.group)
            .map(({ topic, partition, lag: behind }) => ({ topic, partition, lag: behind }));
          return {
            group: reader.group,
            kind: reader.kind,
            name: reader.name ?? reader.group,
            ...(reader.service === undefined ? {} : { service: reader.service }),
            lag: partitions.reduce((sum, p) => sum + Math.max(0, p.lag), 0),
            partitions,
          };
        }),
      }));
      lag = { at: now, body };
      // A failed reading is not served again.
      body.catch(() => {
        if (lag?.body === body) lag = undefined;
      });
    }
    res.json(await lag.body);
  });

  app.get('/sagas', async (req, res) => {
    const query = parse(listQuery, req.query);
    if (query.since !== undefined && query.until !== undefined && query.since >= query.until) {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'since must be before until', 'since');
    }
    const page = await options.views.query({
      limit: query.limit ?? 50,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.type === undefined ? {} : { type: query.type }),
      ...(query.since === undefined ? {} : { since: new Date(query.since).toISOString() }),
      ...(query.until === undefined ? {} : { until: new Date(query.until).toISOString() }),
      ...(query.q === undefined ? {} : { q: query.q }),
      ...(query.cursor === undefined ? {} : { after: query.cursor }),
    });
    res.json({
      sagas: page.views.map(summary),
      ...(page.next === undefined ? {} : { next: page.next }),
    });
  });

  // Counts from the store (exact, whatever the number of sagas); percentiles of the latest ended
  // sagas of each type, read without their views; one answer served for a moment to every page.
  let stats: { readonly at: number; readonly body: unknown } | undefined;
  app.get('/sagas/stats', async (_req, res) => {
    const now = clock().getTime();
    if (stats === undefined || now - stats.at >= STATS_TTL_MS || now < stats.at) {
      const counts = await options.views.counts();
      const types = [...new Set(counts.map((c) => c.type))].sort();
      const body = {
        types: await Promise.all(
          types.map(async (type) => {
            const sorted = (await options.views.durations({ type, limit: DURATIONS_SAMPLED })).sort(
              (a, b) => a - b,
            );
            const byStatus = new Map(
              counts.filter((c) => c.type === type).map((c) => [c.status, c.count]),
            );
            return {
              type,
              counts: Object.fromEntries(STATUSES.map((s) => [s, byStatus.get(s) ?? 0])),
              durationMs: {
                p50: percentile(sorted, 50),
                p95: percentile(sorted, 95),
                ended: ENDED_STATUSES.reduce((sum, s) => sum + (byStatus.get(s) ?? 0), 0),
                sampled: sorted.length,
              },
            };
          }),
        ),
      };
      stats = { at: now, body };
    }
    res.json(stats.body);
  });

  app.get('/sagas/:id', async (req, res) => {
    const id = sagaIdOf(req);
    const view = await options.views.view(id);
    if (view === undefined) throw new HttpError(404, 'NOT_FOUND', `no saga '${id}'`, 'id');
    res.json({ ...view, awaiting: awaitedOf(view) });
  });

  /** The workflow behind a view, when it is an orchestrated one. */
  const workflowOf = (view: SagaView) => {
    const started = view.timeline.find((e) => e.type === 'WorkflowStarted');
    if (!isWorkflowTimeline(view.timeline) || started === undefined) return undefined;
    if (options.workflowControl === undefined) {
      throw new HttpError(404, 'NOT_FOUND', 'this admin service cannot control workflows');
    }
    return {
      control: options.workflowControl,
      target: { workflowId: view.sagaId, entityType: started.entityType },
    };
  };

  /** An operator action on a saga: checks, audits, and answers 202. */
  const operate = (
    action: 'compensate' | 'retry',
    act: (
      view: SagaView,
      request: { at: string; by: string; reason: string },
    ) => Promise<Record<string, unknown>>,
  ) =>
    app.post(`/sagas/:id/${action}`, async (req, res) => {
      const id = sagaIdOf(req);
      const { reason } = parse(compensateBody, req.body ?? {});
      const answer = await audited(
        req,
        res,
        { action: `saga.${action}`, target: id, details: { reason } },
        async ({ at, by }) => {
          const view = await options.views.view(id);
          if (view === undefined) throw new HttpError(404, 'NOT_FOUND', `no saga '${id}'`, 'id');
          return act(view, { at, by, reason });
        },
      );
      res.status(202).json(answer);
    });

  operate('compensate', async (view, request) => {
    if (isEnded(view.status)) {
      throw new HttpError(
        409,
        'SAGA_ENDED',
        `saga '${view.sagaId}' is ${view.status}: there is nothing to compensate`,
      );
    }
    const workflow = workflowOf(view);
    if (workflow !== undefined) {
      if (view.status === 'compensating') {
        throw new HttpError(
          409,
          'SAGA_COMPENSATING',
          `saga '${view.sagaId}' is compensating already`,
        );
      }
      const commandId = await workflow.control.cancel(workflow.target, {
        requestedBy: request.by,
        reason: request.reason,
      });
      return { ...summary(view), commandId };
    }
    const updated = await options.requestCompensation(view.sagaId, request);
    return updated === undefined ? {} : summary(updated);
  });

  operate('retry', async (view, request) => {
    const workflow = workflowOf(view);
    if (workflow === undefined) {
      throw new HttpError(
        409,
        'NOT_A_WORKFLOW',
        `saga '${view.sagaId}' is a choreography: only an orchestrated workflow can be retried`,
      );
    }
    if (view.status !== 'failed') {
      throw new HttpError(
        409,
        'SAGA_NOT_FAILED',
        `saga '${view.sagaId}' is ${view.status}: only a failed workflow can be retried`,
      );
    }
    const commandId = await workflow.control.retry(workflow.target, {
      requestedBy: request.by,
      reason: request.reason,
    });
    return { ...summary(view), commandId };
  });

  const deadLetters = () => {
    if (options.deadLetters === undefined) {
      throw new HttpError(404, 'NOT_FOUND', 'this admin service has no dead-letter index');
    }
    return options.deadLetters;
  };

  // The operators' actions, newest first: all of them, or those on one saga or dead letter,
  // with who, when, why and how each ended.
  app.get('/audit', async (req, res) => {
    const query = parse(auditQuery, req.query);
    const entries = await options.audit.recent(
      query.limit ?? 50,
      query.target === undefined ? {} : { target: query.target },
    );
    res.json({ entries });
  });

  app.get('/dead-letters', async (req, res) => {
    const { store } = deadLetters();
    const query = parse(deadLetterQuery, req.query);
    const page = await store.list({
      limit: query.limit ?? 50,
      ...(query.topic === undefined ? {} : { sourceTopic: query.topic }),
      ...(query.cursor === undefined ? {} : { after: query.cursor }),
    });
    res.json({
      deadLetters: await Promise.all(page.letters.map((letter) => shownLetter(letter))),
      ...(page.next === undefined ? {} : { next: page.next }),
    });
  });

  /**
   * A dead letter as the API shows it: never its bytes (they hold every field, sensitive ones
   * too); its payload decoded and redacted when a serde that redacts can read it.
   */
  const shownLetter = async (letter: DeadLetterRecord) => {
    const { value, ...shown } = letter;
    const serde = options.deadLetters?.serde;
    const bytes = Buffer.from(value, 'base64');
    if (serde?.redact === undefined || letter.eventType === undefined || letter.kind === 'commit') {
      return { ...shown, valueBytes: bytes.length };
    }
    try {
      const payload = serde.redact(letter.eventType, await serde.decode(letter.eventType, bytes));
      return { ...shown, valueBytes: bytes.length, payload };
    } catch {
      return { ...shown, valueBytes: bytes.length, payloadUnreadable: true };
    }
  };

  app.post('/dead-letters/:id/replay', async (req, res) => {
    const { store, publisher } = deadLetters();
    const id = String(req.params['id']);
    const { reason } = parse(compensateBody, req.body ?? {});
    const answer = await audited(
      req,
      res,
      { action: 'dead-letter.replay', target: id, details: { reason } },
      async ({ at, by }) => {
        const letter = await store.get(id);
        if (letter === undefined) {
          throw new HttpError(404, 'NOT_FOUND', `no dead letter '${id}'`, 'id');
        }
        if (letter.kind === 'commit') {
          throw new HttpError(
            409,
            'NOT_REPLAYABLE',
            `dead letter '${id}' is a commit the relay set aside because its events cannot be encoded (${letter.reason}); it holds the commit as JSON, not a message, so it cannot be replayed: the entity's state has the change, only its events were not published`,
            'id',
          );
        }
        if (letter.group === '') {
          throw new HttpError(
            409,
            'NOT_REPLAYABLE',
            `dead letter '${id}' names no consumer group: there is no one to replay it to`,
            'id',
          );
        }
        // To the group that could not handle it, alone: the others applied it already.
        const target = replayTopic(letter.group);
        await publisher.publish([
          {
            topic: target,
            key: letter.key ?? '',
            value: Buffer.from(letter.value, 'base64'),
            headers: letter.headers,
          },
        ]);
        await store.recordReplay(id, { by, at });
        return { id, replayedTo: target, group: letter.group, by, at };
      },
    );
    res.status(202).json(answer);
  });

  // An operator action refused before it ran (no or a wrong token, a read-only token, bad input)
  // is recorded too; those of callers without a valid token at most once a second.
  let strangerRecordedAt = 0;
  let strangersUnrecorded = 0;
  app.use(async (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const route = req.method === 'POST' ? OPERATOR_ROUTE.exec(req.path) : null;
    if (route === null || res.locals['audited'] === true) return next(error);
    const now = clock();
    if (callerOf(res) === undefined) {
      if (now.getTime() - strangerRecordedAt < 1_000) {
        strangersUnrecorded += 1;
        return next(error);
      }
      strangerRecordedAt = now.getTime();
    }
    const { by } = actorOf(req, res);
    const claimed = req.header('x-operator')?.slice(0, 100);
    const unrecorded = strangersUnrecorded;
    strangersUnrecorded = 0;
    await options.audit
      .record({
        action: route[1] === 'sagas' ? `saga.${route[3]}` : 'dead-letter.replay',
        target: decodeURIComponent(route[2]!).slice(0, 200),
        by:
          callerOf(res) === undefined
            ? `unauthenticated${claimed === undefined ? '' : ` (says ${claimed})`}`
            : by,
        at: now.toISOString(),
        address: req.ip ?? '',
        outcome: 'refused',
        details: {
          credential: callerOf(res)?.name ?? 'none',
          ...codeOf(error),
          ...(unrecorded > 0 ? { strangersUnrecorded: unrecorded } : {}),
        },
      })
      .catch(() => {});
    next(error);
  });

  app.use((_req, _res, next) => next(new HttpError(404, 'NOT_FOUND', 'no such route')));
  app.use(errorHandler);
  return app;
}
