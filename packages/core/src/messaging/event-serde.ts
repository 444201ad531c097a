import type { SchemaRef } from './envelope.js';

/** An encoded payload and the schema it was written with. */
export interface EncodedPayload {
  readonly value: Buffer;
  readonly schema: SchemaRef;
}

/**
 * Port: turns event payloads into bytes and back. Encoding a payload that does not fit its
 * schema, or decoding bytes that cannot be read, throws a terminal SERDE_FAILED error that says
 * what was wrong.
 */
export interface EventSerde {
  encode(eventType: string, payload: Readonly<Record<string, unknown>>): Promise<EncodedPayload>;
  /** Decodes into the reader's (current) schema of the event type. */
  decode(eventType: string, value: Buffer): Promise<Record<string, unknown>>;
  /**
   * Throws a terminal SERDE_FAILED error when a payload does not fit its type's schema, its
   * `context.field` the path of the first field that does not (`items.0.quantity`). Needed by
   * workflows that declare an `inputSchema`. @default absent
   */
  check?(eventType: string, payload: unknown): void;
  /**
   * A copy of the payload fit for logs, with the fields its schema marks sensitive replaced by
   * `[REDACTED]`. Without it, payloads are never logged. @default absent
   */
  redact?(eventType: string, payload: Readonly<Record<string, unknown>>): Record<string, unknown>;
}
