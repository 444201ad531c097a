import type { OutboxEvent } from '../entity/commit.js';
import { SagaflowError } from '../errors.js';

/** Kafka header names of the sagaflow event envelope. */
export const headerNames = {
  eventId: 'sagaflow-event-id',
  eventType: 'sagaflow-event-type',
  schemaSubject: 'sagaflow-schema-subject',
  schemaVersion: 'sagaflow-schema-version',
  entityType: 'sagaflow-entity-type',
  entityId: 'sagaflow-entity-id',
  entityVersion: 'sagaflow-entity-version',
  eventIndex: 'sagaflow-event-index',
  sagaId: 'sagaflow-saga-id',
  causationId: 'sagaflow-causation-id',
  service: 'sagaflow-service',
  occurredAt: 'sagaflow-occurred-at',
  traceparent: 'traceparent',
} as const;

/** A message as the bus carries it. */
export interface BusMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** The topic of an entity type's events: `<domain>.<entity>.events`. */
export const eventsTopic = (entityType: string) => `${entityType}.events`;

/** The topic of an entity type's commands: `<domain>.<entity>.commands`. */
export const commandsTopic = (entityType: string) => `${entityType}.commands`;

/** Where an encoded payload's schema is registered. */
export interface SchemaRef {
  readonly subject: string;
  readonly version: number;
}

/** The message that carries an outbox event: key = entity id, so one entity keeps its order. */
export function eventMessage(event: OutboxEvent, value: Buffer, schema: SchemaRef): BusMessage {
  const headers: Record<string, string> = {
    [headerNames.eventId]: event.eventId,
    [headerNames.eventType]: event.type,
    [headerNames.schemaSubject]: schema.subject,
    [headerNames.schemaVersion]: String(schema.version),
    [headerNames.entityType]: event.entityType,
    [headerNames.entityId]: event.entityId,
    [headerNames.entityVersion]: String(event.version),
    [headerNames.eventIndex]: String(event.index),
    [headerNames.sagaId]: event.metadata.sagaId,
    [headerNames.causationId]: event.metadata.causationId,
    [headerNames.service]: event.metadata.service,
    [headerNames.occurredAt]: event.occurredAt,
  };
  if (event.metadata.traceparent !== undefined) {
    headers[headerNames.traceparent] = event.metadata.traceparent;
  }
  return { topic: eventsTopic(event.entityType), key: event.entityId, value, headers };
}

/** The envelope of a received event, read from its headers. */
export interface EventEnvelope {
  readonly eventId: string;
  readonly type: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly version: number;
  readonly sagaId: string;
  readonly causationId: string;
  readonly service: string;
  readonly occurredAt: string;
  readonly traceparent?: string;
}

/** Reads the envelope; a missing or malformed header throws SERDE_FAILED naming it. */
export function readEnvelope(headers: Readonly<Record<string, string | undefined>>): EventEnvelope {
  const get = (name: string) => {
    const value = headers[name];
    if (value === undefined || value === '') {
      throw new SagaflowError('SERDE_FAILED', `header ${name} is missing`);
    }
    return value;
  };
  const eventId = get(headerNames.eventId);
  const type = get(headerNames.eventType);
  const entityType = get(headerNames.entityType);
  const entityId = get(headerNames.entityId);
  const version = Number(get(headerNames.entityVersion));
  if (!Number.isInteger(version) || version < 1) {
    throw new SagaflowError(
      'SERDE_FAILED',
      `header ${headerNames.entityVersion} must be a positive integer (got '${headers[headerNames.entityVersion]}')`,
    );
  }
  const traceparent = headers[headerNames.traceparent];
  return {
    eventId,
    type,
    entityType,
    entityId,
    version,
    sagaId: get(headerNames.sagaId),
    causationId: get(headerNames.causationId),
    service: get(headerNames.service),
    occurredAt: get(headerNames.occurredAt),
    ...(traceparent === undefined ? {} : { traceparent }),
  };
}
