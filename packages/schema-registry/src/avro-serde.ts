import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import {
  backoffDelay,
  SagaflowError,
  type EncodedPayload,
  type EventSerde,
  type SchemaRef,
} from '@sagaflow/core';
import type { CatalogEntry, SchemaCatalog } from './schema-catalog.js';
import { redactPayload } from './redact.js';

/** Options of {@link AvroSerde}. */
export interface AvroSerdeOptions {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`. */
  readonly registryUrl: string;
  readonly catalog: SchemaCatalog;
}

interface Registered extends SchemaRef {
  readonly id: number;
}

const MAGIC_BYTE = 0;
/** The magic byte and the 4-byte schema id before the Avro body. */
const HEADER_BYTES = 5;

/** Pauses between tries of a registration that lost the race for a new subject. */
const RACE_BACKOFF = { initialMs: 100, maxMs: 1000, multiplier: 2 };

/**
 * The schema id of a payload in the Confluent wire format (magic byte 0, 4-byte id, body);
 * anything else throws a terminal SERDE_FAILED.
 */
export function readSchemaId(value: Buffer): number {
  if (value.length < HEADER_BYTES || value.readUInt8(0) !== MAGIC_BYTE) {
    throw new SagaflowError(
      'SERDE_FAILED',
      'not in the Confluent wire format (magic byte 0 + schema id)',
    );
  }
  return value.readInt32BE(1);
}

/**
 * Throws a terminal SERDE_FAILED naming the fields of the payload that do not fit its schema; its
 * `context.field` is the path of the first one (`items.0.quantity`), empty for the whole payload.
 */
export function checkPayload(catalog: SchemaCatalog, eventType: string, payload: unknown): void {
  const found = misfits(catalog.get(eventType), payload);
  if (found.length > 0) {
    throw new SagaflowError(
      'SERDE_FAILED',
      `invalid ${eventType}: ${found.map((m) => m.problem).join('; ')}`,
      { context: { field: found[0]!.path.join('.') } },
    );
  }
}

/** Says where a payload does not fit its schema: `StockReserved.quantity: expected "int", got "x"`. */
export function schemaViolations(entry: CatalogEntry, payload: unknown): string[] {
  return misfits(entry, payload).map((m) => m.problem);
}

function misfits(entry: CatalogEntry, payload: unknown): { path: string[]; problem: string }[] {
  const problems: { path: string[]; problem: string }[] = [];
  entry.avroType.isValid(payload, {
    errorHook: (path: string[], value: unknown, type: { toString(): string }) => {
      const where = [entry.type, ...path].join('.');
      const expected = (() => {
        try {
          return JSON.stringify(JSON.parse(type.toString()));
        } catch {
          return type.toString();
        }
      })();
      problems.push({
        path: [...path],
        problem: `${where}: expected ${expected}, got ${JSON.stringify(value) ?? 'undefined'}`,
      });
    },
  });
  return problems;
}

function isNotFound(error: unknown): boolean {
  const status = (error as { status?: unknown } | undefined)?.status;
  return status === 404 || /40403|not found/i.test((error as Error | undefined)?.message ?? '');
}

/**
 * Avro {@link EventSerde} through a Confluent-compatible schema registry: payloads are written in
 * the Confluent wire format (magic byte 0, 4-byte schema id, Avro body), so any Confluent-compatible
 * consumer can read them. The subject of a type is its record's full name. Decoding reads with the
 * catalog's (current) schema, so events written with an older compatible schema still decode.
 */
export class AvroSerde implements EventSerde {
  readonly #registry: SchemaRegistry;
  readonly #catalog: SchemaCatalog;
  readonly #registered = new Map<string, Promise<Registered>>();

  constructor(options: AvroSerdeOptions) {
    this.#registry = new SchemaRegistry({ host: options.registryUrl.replace(/\/+$/, '') });
    this.#catalog = options.catalog;
    this.registryUrl = options.registryUrl.replace(/\/+$/, '');
  }

  readonly registryUrl: string;

  /** Registers every schema of the catalog under BACKWARD compatibility. */
  async registerAll(): Promise<(SchemaRef & { readonly id: number })[]> {
    return Promise.all(this.#catalog.entries().map((entry) => this.#register(entry)));
  }

  #register(entry: CatalogEntry): Promise<Registered> {
    let registered = this.#registered.get(entry.type);
    if (registered === undefined) {
      registered = (async () => {
        let id: number;
        try {
          ({ id } = await this.#registerOnce(entry));
        } catch (error) {
          const message = (error as Error).message;
          const incompatible = /incompatib|409/i.test(message);
          throw new SagaflowError(
            'SERDE_FAILED',
            incompatible
              ? `${entry.file} is not BACKWARD compatible with the registered ${entry.fullName}: ${message}`
              : `registering ${entry.fullName} failed: ${message}`,
            { retriable: !incompatible, cause: error },
          );
        }
        const response = await fetch(
          `${this.registryUrl}/subjects/${encodeURIComponent(entry.fullName)}`,
          {
            method: 'POST',
            headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
            body: JSON.stringify({ schema: entry.schema }),
          },
        );
        if (!response.ok) {
          throw new SagaflowError(
            'SERDE_FAILED',
            `looking up ${entry.fullName} answered ${response.status}`,
            {
              retriable: true,
            },
          );
        }
        const found = (await response.json()) as { version: number };
        return { id, subject: entry.fullName, version: found.version };
      })();
      registered.catch(() => this.#registered.delete(entry.type));
      this.#registered.set(entry.type, registered);
    }
    return registered;
  }

  /**
   * Registers one schema. Services starting together race to create a new subject and set its
   * compatibility: the loser reads the subject before its compatibility is set (or sets it a
   * second time) and is refused. A moment later the subject is complete: it tries again.
   */
  async #registerOnce(entry: CatalogEntry): Promise<{ id: number }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#registry.register(
          { type: SchemaType.AVRO, schema: entry.schema },
          { subject: entry.fullName, compatibility: COMPATIBILITY.BACKWARD },
        );
      } catch (error) {
        const racing = /does not match the configuration|already exists/i.test(
          (error as Error).message,
        );
        if (!racing || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(RACE_BACKOFF, attempt)));
      }
    }
  }

  /** Throws a terminal SERDE_FAILED naming the fields of the payload that do not fit. */
  /** The payload with the fields its schema marks `"sensitive": true` redacted, for logs. */
  redact(eventType: string, payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return redactPayload(this.#catalog.get(eventType).definition, payload);
  }

  check(eventType: string, payload: unknown): void {
    checkPayload(this.#catalog, eventType, payload);
  }

  async encode(
    eventType: string,
    payload: Readonly<Record<string, unknown>>,
  ): Promise<EncodedPayload> {
    this.check(eventType, payload);
    const registered = await this.#register(this.#catalog.get(eventType));
    const value = await this.#registry.encode(registered.id, payload);
    return { value, schema: { subject: registered.subject, version: registered.version } };
  }

  /**
   * Readers of one event type from one writer schema id: the catalog's type, resolving the
   * writer's schema when it differs. Built once (avsc builds a type and a resolver in about half a
   * millisecond; reading with them takes microseconds).
   */
  readonly #readers = new Map<string, (body: Buffer) => unknown>();

  async #reader(entry: CatalogEntry, schemaId: number): Promise<(body: Buffer) => unknown> {
    const key = `${entry.type}/${schemaId}`;
    let read = this.#readers.get(key);
    if (read === undefined) {
      // The registry client keeps the schemas it fetched: asked once per id.
      const writer = (await this.#registry.getSchema(schemaId)) as unknown as avro.Type;
      const reader = entry.avroType;
      if (reader.equals(writer)) {
        read = (body) => reader.fromBuffer(body);
      } else {
        const resolver = reader.createResolver(writer);
        read = (body) => reader.fromBuffer(body, resolver);
      }
      this.#readers.set(key, read);
    }
    return read;
  }

  async decode(eventType: string, value: Buffer): Promise<Record<string, unknown>> {
    const entry = this.#catalog.get(eventType);
    const schemaId = readSchemaId(value);
    try {
      const read = await this.#reader(entry, schemaId);
      return read(value.subarray(HEADER_BYTES)) as Record<string, unknown>;
    } catch (error) {
      const message = (error as Error).message;
      if (isNotFound(error)) {
        throw new SagaflowError('SERDE_FAILED', `unknown schema id ${schemaId}`, { cause: error });
      }
      if (/fetch failed|ECONNREFUSED|ETIMEDOUT|socket|network/i.test(message)) {
        throw new SagaflowError('SERDE_FAILED', `schema registry unreachable: ${message}`, {
          retriable: true,
          cause: error,
        });
      }
      throw new SagaflowError(
        'SERDE_FAILED',
        `cannot read ${eventType} (schema id ${schemaId}): ${message}`,
        {
          cause: error,
        },
      );
    }
  }
}
