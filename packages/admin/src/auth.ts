import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './http-errors.js';

/** Requires `Authorization: Bearer <token>`: 401 without it, 403 with a wrong one. */
export function requireToken(token: string) {
  const expected = Buffer.from(token);
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.header('authorization');
    const match = header === undefined ? null : /^Bearer (\S+)$/i.exec(header);
    if (match === null) {
      next(new HttpError(401, 'UNAUTHENTICATED', 'send Authorization: Bearer <token>'));
      return;
    }
    const given = Buffer.from(match[1]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      next(new HttpError(403, 'FORBIDDEN', 'the token is not valid'));
      return;
    }
    next();
  };
}
