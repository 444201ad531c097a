import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * A W3C `traceparent` for work caused by `parent`: the same trace id with a new span id, or a
 * new trace when there is no valid parent. Every event carries one, so that a saga is one trace.
 */
export function childTraceparent(parent?: string): string {
  const match = parent === undefined ? null : TRACEPARENT.exec(parent);
  const traceId =
    match !== null && match[1] !== '0'.repeat(32) ? match[1]! : randomBytes(16).toString('hex');
  const flags = match?.[3] ?? '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

/** The trace id of a `traceparent`, or undefined when it is malformed. */
export const traceIdOf = (traceparent: string): string | undefined =>
  TRACEPARENT.exec(traceparent)?.[1];
