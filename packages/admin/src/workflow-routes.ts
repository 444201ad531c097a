import type { Orchestrator } from '@sagaflow/core';
import express, { type Router } from 'express';
import { requireToken } from './auth.js';
import { errorHandler, HttpError } from './http-errors.js';

/** Options of {@link workflowRoutes}. */
export interface WorkflowRoutesOptions {
  /**
   * Bearer token the routes require. Without one (and without `allowNoToken`) they refuse every
   * request with 401: starting workflows is not open to anyone who reaches the port.
   * @default none
   */
  readonly token?: string;
  /**
   * Opens the routes without a token: for a service behind a gateway of its own that checks
   * callers. @default false
   */
  readonly allowNoToken?: boolean;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * HTTP routes that start and read workflows of an orchestrator:
 * - `POST /workflows/:type` with the input as JSON body and an `Idempotency-Key` header:
 *   `202 {workflowId, version, created: true}`; the same key again answers
 *   `200 {…, created: false}` and starts nothing.
 * - `GET /workflows/:id`: the instance's state, or 404.
 * - `POST /workflows/:id/signals/:name` with the signal's payload as JSON body and an
 *   `Idempotency-Key` header: `202 {workflowId, signal, duplicate: false}`, the same key again
 *   `200 {…, duplicate: true}`; 404 for no such workflow, 400 naming the field for a signal it does
 *   not declare or a payload that does not fit, 409 once the workflow has ended.
 */
export function workflowRoutes(
  orchestrator: Orchestrator,
  options: WorkflowRoutesOptions = {},
): Router {
  const router = express.Router();
  if (options.token !== undefined && options.token !== '') {
    router.use(requireToken(options.token));
  } else if (options.allowNoToken !== true) {
    router.use('/workflows', () => {
      throw new HttpError(
        401,
        'UNAUTHENTICATED',
        'this service has no token set (ADMIN_TOKEN): its workflow routes are closed',
      );
    });
  }
  // Bodies are read only from a caller who holds the token.
  router.use(express.json({ limit: '64kb' }));

  const idempotencyKey = (req: express.Request, max = 200): string => {
    const key = req.header('idempotency-key');
    if (key === undefined || !IDEMPOTENCY_KEY.test(key) || key.length > max) {
      throw new HttpError(
        400,
        'INVALID_ARGUMENT',
        `the Idempotency-Key header must be 1 to ${max} visible ASCII characters`,
        'Idempotency-Key',
      );
    }
    return key;
  };

  router.post('/workflows/:type', async (req, res) => {
    const key = idempotencyKey(req);
    const started = await orchestrator.startWorkflow(String(req.params['type']), {
      key,
      input: req.body as unknown,
    });
    res.status(started.created ? 202 : 200).json(started);
  });

  router.get('/workflows/:id', async (req, res) => {
    const id = String(req.params['id']);
    const state = await orchestrator.get(id);
    if (state === undefined) throw new HttpError(404, 'NOT_FOUND', `no workflow '${id}'`, 'id');
    res.json({ workflowId: id, ...state });
  });

  router.post('/workflows/:id/signals/:name', async (req, res) => {
    const key = idempotencyKey(req, 150);
    const sent = await orchestrator.signal(
      String(req.params['id']),
      String(req.params['name']),
      req.body as unknown,
      { idempotencyKey: key },
    );
    res.status(sent.duplicate ? 200 : 202).json(sent);
  });

  router.use(errorHandler);
  return router;
}
