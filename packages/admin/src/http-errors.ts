import { isSagaflowError, type SagaflowErrorCode } from '@sagaflow/core';
import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';

/** An error answered with a status and `{ error: { code, message, field? } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const STATUS: Partial<Record<SagaflowErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  COMMAND_REJECTED: 409,
  SAGA_ENDED: 409,
  STORE_UNAVAILABLE: 503,
  PUBLISH_FAILED: 503,
  VIEW_BEHIND: 503,
};

/** Turns any error into the JSON error body; never a stack trace. */
export function errorHandler(
  error: unknown,
  _req: Request,
  res: Response,
  _next: NextFunction,
): void {
  if (error instanceof HttpError) {
    res.status(error.status).json({
      error: {
        code: error.code,
        message: error.message,
        ...(error.field === undefined ? {} : { field: error.field }),
      },
    });
    return;
  }
  if (isSagaflowError(error)) {
    const field = error.context.field;
    res.status(STATUS[error.code] ?? 500).json({
      error: {
        code: error.code,
        message: error.message,
        ...(field === undefined ? {} : { field }),
      },
    });
    return;
  }
  const parsing = bodyParserError(error);
  if (parsing !== undefined) {
    res.status(parsing.status).json({ error: parsing.error });
    return;
  }
  res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
}

/**
 * Parses a request's input with a zod schema; a bad one throws a 400 {@link HttpError} naming the
 * first wrong field.
 */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field =
    issue?.path.join('.') ||
    (issue?.code === 'unrecognized_keys' ? String(issue.keys[0]) : 'input');
  const message =
    issue?.code === 'unrecognized_keys'
      ? `${issue.keys.join(', ')} is not a known field`
      : (issue?.message ?? 'is invalid');
  throw new HttpError(
    400,
    'INVALID_ARGUMENT',
    message.startsWith(field) ? message : `${field}: ${message}`,
    field,
  );
}

/**
 * The answer to an error of express's body parser (`type` as the `body-parser` package names its
 * errors): what was wrong with the request, never a 500.
 */
function bodyParserError(
  error: unknown,
): { status: number; error: { code: string; message: string; field: string } } | undefined {
  const { type, status, limit, charset, encoding } = error as {
    type?: unknown;
    status?: unknown;
    limit?: unknown;
    charset?: unknown;
    encoding?: unknown;
  };
  switch (type) {
    case 'entity.parse.failed':
      return {
        status: 400,
        error: { code: 'INVALID_ARGUMENT', message: 'the body is not valid JSON', field: 'body' },
      };
    case 'entity.too.large':
      return {
        status: 413,
        error: {
          code: 'PAYLOAD_TOO_LARGE',
          message: `the body is larger than ${typeof limit === 'number' ? `${limit} bytes` : 'this endpoint takes'}`,
          field: 'body',
        },
      };
    case 'encoding.unsupported':
      return {
        status: 415,
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `the content encoding '${String(encoding)}' is not supported (identity, gzip, deflate or br)`,
          field: 'Content-Encoding',
        },
      };
    case 'charset.unsupported':
      return {
        status: 415,
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `the charset '${String(charset)}' is not supported (utf-8)`,
          field: 'Content-Type',
        },
      };
    default:
      // Any other refusal of the parser (an aborted or truncated request, too many parameters).
      if (typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500) {
        return {
          status,
          error: { code: 'INVALID_ARGUMENT', message: 'the body could not be read', field: 'body' },
        };
      }
      return undefined;
  }
}
