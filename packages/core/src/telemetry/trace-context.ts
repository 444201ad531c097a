import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The parts of a W3C `traceparent`, or undefined when it is absent or malformed. */
export function parseTraceparent(
  traceparent: string | undefined,
): { traceId: string; spanId: string; flags: string } | undefined {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  return match === null ? undefined : { traceId: match[1]!, spanId: match[2]!, flags: match[3]! };
}

/**
 * A W3C `traceparent` for work caused by `parent`: the same trace id with a new span id, or a
 * new trace when there is no valid parent. Every event carries one, so that a saga is one trace.
 */
export function childTraceparent(parent?: string): string {
  const parsed = parseTraceparent(parent);
  const traceId =
    parsed !== undefined && parsed.traceId !== '0'.repeat(32)
      ? parsed.traceId
      : randomBytes(16).toString('hex');
  const flags = parsed?.flags ?? '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

/** The trace id of a `traceparent`, or undefined when it is malformed. */
export const traceIdOf = (traceparent: string): string | undefined =>
  parseTraceparent(traceparent)?.traceId;
