import { invalidArgument, SagaflowError } from '@sagaflow/core';

/** An opaque cursor for "newest first" pages: the sort key and the id of the last item. */
export const cursorOf = (sortKey: string, id: string): string =>
  Buffer.from(JSON.stringify([sortKey, id])).toString('base64url');

/** Reads a cursor made by {@link cursorOf}; a malformed one throws naming `after`. */
export function parseCursor(cursor: string): [sortKey: string, id: string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof parsed[0] === 'string' && typeof parsed[1] === 'string')
      return [parsed[0], parsed[1]];
  } catch {
    /* reported below */
  }
  throw invalidArgument('after', `is not a cursor returned by a previous page (got '${cursor}')`);
}

/** A database failure: retriable, saying what was being done. */
export function unavailable(action: string, cause: unknown): SagaflowError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SagaflowError('STORE_UNAVAILABLE', `${action} failed: ${detail}`, {
    retriable: true,
    cause,
  });
}
