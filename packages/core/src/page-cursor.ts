import { invalidArgument } from './errors.js';

/** An opaque cursor for "newest first" pages: the sort key and the id of a page's last item. */
export const pageCursor = (sortKey: string, id: string): string =>
  Buffer.from(JSON.stringify([sortKey, id])).toString('base64url');

/** Reads a cursor made by {@link pageCursor}; a malformed one throws naming `after`. */
export function parsePageCursor(cursor: string): [sortKey: string, id: string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof parsed[0] === 'string' && typeof parsed[1] === 'string')
      return [parsed[0], parsed[1]];
  } catch {
    /* reported below */
  }
  throw invalidArgument('after', `is not a cursor returned by a previous page (got '${cursor}')`);
}
