import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './http-errors.js';

/** A bearer token, whom it names and what it allows. */
export interface Credential {
  readonly token: string;
  /** Whom the token names, e.g. `alice`; recorded as `by` in the audit log when `named`. */
  readonly name: string;
  /** Whether it may act (compensate, retry, replay) or only read. */
  readonly mayOperate: boolean;
  /**
   * Whether the token names one person: then the audit log records that name, whatever the
   * caller's `X-Operator` says. A shared token takes the name the caller gives.
   */
  readonly named: boolean;
}

/** Who called, as their token proves it. */
export type Caller = Omit<Credential, 'token'>;

/** The caller the request authenticated as, if it did. */
export const callerOf = (res: Response): Caller | undefined =>
  res.locals['caller'] as Caller | undefined;

const tokenOf = (req: Request) => {
  const header = req.header('authorization');
  return header === undefined ? null : (/^Bearer (\S+)$/i.exec(header)?.[1] ?? null);
};

const same = (given: Buffer, expected: Buffer) =>
  given.length === expected.length && timingSafeEqual(given, expected);

/**
 * Requires `Authorization: Bearer <token>` of one of the credentials: 401 without it, 403 with one
 * that is none of them; the caller it names is kept for the routes (see {@link callerOf}).
 */
export function authenticate(credentials: readonly Credential[]) {
  const known = credentials.map((c) => ({ ...c, bytes: Buffer.from(c.token) }));
  return (req: Request, res: Response, next: NextFunction) => {
    const token = tokenOf(req);
    if (token === null) {
      next(new HttpError(401, 'UNAUTHENTICATED', 'send Authorization: Bearer <token>'));
      return;
    }
    const given = Buffer.from(token);
    // Every credential is compared, so that the time taken says nothing about which matched.
    let found: (typeof known)[number] | undefined;
    for (const credential of known) if (same(given, credential.bytes)) found ??= credential;
    if (found === undefined) {
      next(new HttpError(403, 'FORBIDDEN', 'the token is not valid'));
      return;
    }
    res.locals['caller'] = {
      name: found.name,
      mayOperate: found.mayOperate,
      named: found.named,
    } satisfies Caller;
    next();
  };
}

/** Requires `Authorization: Bearer <token>`: 401 without it, 403 with a wrong one. */
export const requireToken = (token: string) =>
  authenticate([{ token, name: 'operator', mayOperate: true, named: false }]);

/** Refuses a caller whose token only reads (403 `READ_ONLY`). */
export function requireOperator(_req: Request, res: Response, next: NextFunction): void {
  if (callerOf(res)?.mayOperate === false) {
    next(
      new HttpError(403, 'READ_ONLY', 'this token may only read: acting needs an operator token'),
    );
    return;
  }
  next();
}
