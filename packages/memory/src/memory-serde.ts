import { SagaflowError, type EncodedPayload, type EventSerde } from '@sagaflow/core';
import {
  checkPayload,
  redactPayload,
  readSchemaId,
  type CatalogEntry,
  type SchemaCatalog,
} from '@sagaflow/schema-registry';

/**
 * In-memory Avro serde over a schema catalog, for fast tests and the embedded demo: the same
 * Confluent wire format and schema checks as the registry-backed serde, with ids given out
 * locally instead of by a registry.
 */
export class MemorySerde implements EventSerde {
  readonly #catalog: SchemaCatalog;
  readonly #byId: CatalogEntry[];

  constructor(catalog: SchemaCatalog) {
    this.#catalog = catalog;
    this.#byId = catalog.entries();
  }

  /** The payload with the fields its schema marks `"sensitive": true` redacted, for logs. */
  redact(eventType: string, payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return redactPayload(this.#catalog.get(eventType).definition, payload);
  }

  check(eventType: string, payload: unknown): void {
    checkPayload(this.#catalog, eventType, payload);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- errors must arrive as rejections
  async encode(
    eventType: string,
    payload: Readonly<Record<string, unknown>>,
  ): Promise<EncodedPayload> {
    this.check(eventType, payload);
    const entry = this.#catalog.get(eventType);
    const header = Buffer.alloc(5);
    header.writeInt32BE(this.#byId.indexOf(entry) + 1, 1);
    return {
      value: Buffer.concat([header, entry.avroType.toBuffer(payload)]),
      schema: { subject: entry.fullName, version: 1 },
    };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- errors must arrive as rejections
  async decode(eventType: string, value: Buffer): Promise<Record<string, unknown>> {
    const reader = this.#catalog.get(eventType);
    const schemaId = readSchemaId(value);
    const writer = this.#byId[schemaId - 1];
    if (writer === undefined)
      throw new SagaflowError('SERDE_FAILED', `unknown schema id ${schemaId}`);
    try {
      const body = value.subarray(5);
      const decoded: unknown =
        writer === reader
          ? reader.avroType.fromBuffer(body)
          : reader.avroType.fromBuffer(body, reader.avroType.createResolver(writer.avroType));
      return decoded as Record<string, unknown>;
    } catch (error) {
      throw new SagaflowError(
        'SERDE_FAILED',
        `cannot read ${eventType}: ${(error as Error).message}`,
      );
    }
  }
}
