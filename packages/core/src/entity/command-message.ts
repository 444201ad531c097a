import type { BusMessage, SchemaRef } from '../messaging/envelope.js';
import { commandsTopic, headerNames } from '../messaging/envelope.js';
import { SagaflowError } from '../errors.js';

/** Header names a command adds to the envelope's. */
export const commandHeaderNames = {
  commandId: 'sagaflow-command-id',
  commandType: 'sagaflow-command-type',
} as const;

/** The event type with which an entity answers a refused command. */
export const COMMAND_REJECTED = 'CommandRejected';

/** The event type with which an entity answers a command that had nothing to change. */
export const COMMAND_ACCEPTED = 'CommandAccepted';

/** The envelope of a command on a command topic. */
export interface CommandEnvelope {
  /**
   * Unique per command, and stable across resends: an orchestrator derives it from workflow id,
   * step and attempt. The entity applies a command id once.
   */
  readonly commandId: string;
  /** The command's schema type, e.g. `ReserveStock`. */
  readonly type: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly sagaId: string;
  /** The service that sent the command. */
  readonly service: string;
  readonly occurredAt: string;
  readonly traceparent?: string;
}

/** The message that carries a command to its entity's command topic (key = entity id). */
export function commandMessage(
  command: CommandEnvelope,
  value: Buffer,
  schema: SchemaRef,
): BusMessage {
  const headers: Record<string, string> = {
    [commandHeaderNames.commandId]: command.commandId,
    [commandHeaderNames.commandType]: command.type,
    [headerNames.schemaSubject]: schema.subject,
    [headerNames.schemaVersion]: String(schema.version),
    [headerNames.entityType]: command.entityType,
    [headerNames.entityId]: command.entityId,
    [headerNames.sagaId]: command.sagaId,
    [headerNames.causationId]: command.commandId,
    [headerNames.service]: command.service,
    [headerNames.occurredAt]: command.occurredAt,
  };
  if (command.traceparent !== undefined) headers[headerNames.traceparent] = command.traceparent;
  return { topic: commandsTopic(command.entityType), key: command.entityId, value, headers };
}

/** Reads a command's envelope; a missing header throws SERDE_FAILED naming it. */
export function readCommandEnvelope(
  headers: Readonly<Record<string, string | undefined>>,
): CommandEnvelope {
  const get = (name: string) => {
    const value = headers[name];
    if (value === undefined || value === '') {
      throw new SagaflowError('SERDE_FAILED', `header ${name} is missing`);
    }
    return value;
  };
  const traceparent = headers[headerNames.traceparent];
  return {
    commandId: get(commandHeaderNames.commandId),
    type: get(commandHeaderNames.commandType),
    entityType: get(headerNames.entityType),
    entityId: get(headerNames.entityId),
    sagaId: get(headerNames.sagaId),
    service: get(headerNames.service),
    occurredAt: get(headerNames.occurredAt),
    ...(traceparent === undefined ? {} : { traceparent }),
  };
}
