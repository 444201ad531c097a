import { HttpError, parseInput } from '@sagaflow/admin';
import type { Request } from 'express';
import { z } from 'zod';

/** Ids in paths and bodies: no spaces, at most 100 characters. */
export const ID_PATTERN = /^[\w.:@-]{1,100}$/;

/** A string id field: 1 to 100 letters, digits or `. _ : @ -`. */
export const idField = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .regex(ID_PATTERN, `${field} must be 1 to 100 letters, digits or . _ : @ -`);

/** An id from a path or query, checked; a bad one answers 400 naming `field`. */
export const idParam = (field: string, value: unknown): string =>
  parseInput(
    z
      .string()
      .regex(
        ID_PATTERN,
        `${field} must be 1 to 100 letters, digits or . _ : @ - (got '${String(value)}')`,
      ),
    value,
  );

/** A whole number from 0 to `max`. */
export const countField = (field: string, max: number) =>
  z
    .number({ error: `${field} must be a number` })
    .int(`${field} must be an integer`)
    .min(0, `${field} must not be negative`)
    .max(max, `${field} must be at most ${max}`);

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The request's `Idempotency-Key` header, if any; a malformed one answers 400. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.header('idempotency-key');
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      'the Idempotency-Key header must be 1 to 200 visible ASCII characters',
      'Idempotency-Key',
    );
  }
  return key;
}
