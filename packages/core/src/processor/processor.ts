import { backoffDelay, defaultBackoff, sleep, type BackoffPolicy } from '../backoff.js';
import type { EntitySnapshot, OutboxEvent } from '../entity/commit.js';
import type { EntityDefinition } from '../entity/entity.js';
import type { CommandResult, EntityService } from '../entity/entity-service.js';
import {
  commandsTopic,
  eventMessage,
  headerNames,
  readEnvelope,
  type BusMessage,
  type EventEnvelope,
} from '../messaging/envelope.js';
import {
  commandHeaderNames,
  readCommandEnvelope,
  type CommandEnvelope,
} from '../entity/command-message.js';
import {
  noMetrics,
  silentLogger,
  type MessageOutcome,
  type SagaflowLogger,
  type SagaflowMetrics,
} from '../telemetry/instrumentation.js';
import { inSpan, spanAttributes, SpanKind } from '../telemetry/telemetry.js';
import { traceIdOf } from '../telemetry/trace-context.js';
import { commandCausationKey } from '../workflow/workflow.js';
import { invalidArgument, SagaflowError, type SagaflowErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { EventSerde } from '../messaging/event-serde.js';
import {
  SAGA_MESSAGE_RESUMED,
  SAGA_MESSAGE_WAITING,
  sagaNoticeEntityType,
  type SagaMessageResumed,
  type SagaMessageWaiting,
} from '../saga/saga-notice.js';
import type {
  MessagePublisher,
  MessageSubscriber,
  ReceivedMessage,
  Subscription,
} from '../messaging/message-bus.js';

/** An event as a processor handler receives it. */
export interface ReceivedEvent<P = Record<string, unknown>> extends EventEnvelope {
  readonly payload: P;
  /** All headers of the message, as received. */
  readonly headers: Readonly<Record<string, string>>;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** What a processor handler can do. */
export interface ProcessorContext {
  /** The current state of an entity of this service (its initial state at version 0 if none). */
  load<S, C extends Record<string, object>, E extends Record<string, object>>(
    definition: EntityDefinition<S, C, E>,
    entityId: string,
  ): Promise<EntitySnapshot<S>>;
  /**
   * Sends a command to an entity of this service. The n-th command that a processor sends for one
   * event gets the causation key `<processor>:<eventId>#<n>`, so that a redelivered event changes
   * nothing a second time while two processors reacting to one event do not collide; the saga id
   * and trace context are carried over.
   */
  execute<
    S,
    C extends Record<string, object>,
    E extends Record<string, object>,
    K extends keyof C & string,
  >(
    definition: EntityDefinition<S, C, E>,
    entityId: string,
    command: K,
    payload: C[K],
    options?: ExecuteOptions,
  ): Promise<CommandResult<S>>;
}

/** Options of {@link ProcessorContext.execute}. */
export interface ExecuteOptions {
  /**
   * The causation id of the resulting events, when they answer a message other than the event
   * being handled: e.g. a participant that completes a command from a command topic in a
   * processor (after reserving several entities) answers with the command's id, so that the
   * orchestrator that sent it sees the reply. The causation key (deduplication) is unchanged.
   * @default the handled event's id
   */
  readonly causationId?: string;
  /**
   * Makes the command's causation key `<processor>:<idempotencyKey>` instead of the handled
   * event's id and the call's place in the handler (`<processor>:<eventId>#<n>`): an entity then
   * takes at most one command with that key from this processor, whichever event or run sends it
   * (e.g. `hold:<orderId>`: one hold per order, also from a second event about the same order).
   * 1 to 180 characters without spaces. @default the event's id and the call's place
   */
  readonly idempotencyKey?: string;
}

/** A processor's causation key for a call: by the caller's idempotency key, else the event's place. */
function keyedBy(
  processor: string,
  idempotencyKey: string | undefined,
  eventId: string,
  call: number,
): string {
  if (idempotencyKey === undefined) return `${processor}:${eventId}#${call}`;
  if (!/^\S{1,180}$/.test(idempotencyKey)) {
    throw invalidArgument('idempotencyKey', 'must be 1 to 180 characters without spaces');
  }
  return `${processor}:${idempotencyKey}`;
}

/** A handler of one event type. */
export type EventHandler<P = Record<string, unknown>> = (
  event: ReceivedEvent<P>,
  context: ProcessorContext,
) => Promise<void>;

/** Payload types by event type, e.g. the generated `SchemaTypes`. */
export type EventPayloads = object;

/**
 * A consumer-group handler: which topics it reads, and what it does per event type. Give it the
 * payload types (`defineProcessor<SchemaTypes>(…)`) and each handler's event is typed.
 */
export interface ProcessorDefinition<
  Events extends EventPayloads = Record<string, Record<string, unknown>>,
> {
  /** Unique in the service; the consumer group is `<service>.<name>`. */
  readonly name: string;
  readonly topics: readonly string[];
  /** Handlers by event type. */
  readonly handlers: { readonly [K in keyof Events & string]?: EventHandler<Events[K]> };
  /**
   * Event types that arrive on these topics and are skipped on purpose. Any other type without a
   * handler is dead-lettered, so that a new event type is noticed, not silently dropped.
   * @default []
   */
  readonly ignore?: readonly string[];
  /**
   * Decides from the envelope alone, before the payload is decoded, whether the processor wants
   * an event; the others are skipped. @default every event is wanted
   */
  readonly filter?: (envelope: EventEnvelope) => boolean;
  /**
   * Handles the wanted events of every type that has no handler of its own, instead of
   * dead-lettering them. @default none
   */
  readonly fallback?: EventHandler;
  /**
   * What is handled in order: the events of one key (the entity that emitted them), those of
   * other keys side by side; or every event of a partition, one at a time.
   * @default 'key'
   */
  readonly ordering?: 'key' | 'partition';
}

/** A processor definition of any payload types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProcessorDefinition = ProcessorDefinition<any>;

/** Checks and returns a processor definition. */
export function defineProcessor<
  Events extends EventPayloads = Record<string, Record<string, unknown>>,
>(definition: ProcessorDefinition<Events>): ProcessorDefinition<Events> {
  if (!/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/.test(definition.name)) {
    throw invalidArgument(
      'name',
      `must be lower-case words joined by '-' or '.' (got '${definition.name}')`,
    );
  }
  if (definition.topics.length === 0)
    throw invalidArgument('topics', 'must name at least one topic');
  if (Object.keys(definition.handlers).length === 0 && definition.fallback === undefined) {
    throw invalidArgument('handlers', 'must handle at least one event type');
  }
  if (
    definition.ordering !== undefined &&
    definition.ordering !== 'key' &&
    definition.ordering !== 'partition'
  ) {
    throw invalidArgument(
      'ordering',
      `must be 'key' or 'partition' (got '${String(definition.ordering)}')`,
    );
  }
  return definition;
}

/**
 * An entity's command topic: which command types it accepts, each with the entity command it
 * runs (with the same payload). Replies are the entity's events, whose causation id is the
 * command id; a refused command is answered by a `CommandRejected` event.
 */
export interface CommandEndpoint {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly entity: EntityDefinition<any, any, any>;
  /** e.g. `{ ReserveStock: 'Reserve' }`. */
  readonly commands: Readonly<Record<string, string>>;
  /**
   * The entity is a saga of its own (a workflow): its commits carry its own id as the saga id,
   * whatever saga the command's sender was part of, so that what it sends and the replies it
   * gets stay its own. @default false: the commit joins the command's saga
   */
  readonly ownSaga?: boolean;
}

/** Checks and returns a command endpoint; an unknown entity command throws naming it. */
export function defineCommandEndpoint(endpoint: CommandEndpoint): CommandEndpoint {
  const names = Object.keys(endpoint.commands);
  if (names.length === 0)
    throw invalidArgument('commands', 'must accept at least one command type');
  if (endpoint.ownSaga !== undefined && typeof endpoint.ownSaga !== 'boolean') {
    throw invalidArgument('ownSaga', 'must be true or false');
  }
  for (const [type, command] of Object.entries(endpoint.commands)) {
    if (!Object.hasOwn(endpoint.entity.commands, command)) {
      throw invalidArgument(
        `commands.${type}`,
        `names '${command}', which ${endpoint.entity.type} does not have`,
      );
    }
  }
  return endpoint;
}

/** Header names a dead letter adds to the original headers. */
export const deadLetterHeaders = {
  id: 'sagaflow-dlq-id',
  reason: 'sagaflow-dlq-reason',
  errorCode: 'sagaflow-dlq-error-code',
  sourceTopic: 'sagaflow-dlq-source-topic',
  sourcePartition: 'sagaflow-dlq-source-partition',
  sourceOffset: 'sagaflow-dlq-source-offset',
  group: 'sagaflow-dlq-group',
  attempts: 'sagaflow-dlq-attempts',
  failedAt: 'sagaflow-dlq-failed-at',
  /** `commit` for a commit the outbox relay set aside; absent for a message a consumer could not handle. */
  kind: 'sagaflow-dlq-kind',
} as const;

/** The dead-letter topic of a consumer group. */
export const deadLetterTopic = (groupId: string) => `${groupId}.dlq`;

/**
 * The replay topic of a consumer group: a dead letter an operator replays goes there, so that only
 * the group that could not handle it reads it again (the others applied it already, and their
 * records of it may have been compacted since). The group reads it beside its own topics.
 */
export const replayTopic = (groupId: string) => `${groupId}.replay`;

/** The consumer group whose dead-letter topic this is, if it is one (`<group>.dlq`). */
export const groupOfDeadLetterTopic = (topic: string): string | undefined =>
  topic.endsWith('.dlq') && topic.length > 4 ? topic.slice(0, -4) : undefined;

/** The dead-letter topic of a service's outbox relay: commits it set aside (see `OutboxRelay`). */
export const relayDeadLetterTopic = (service: string) => deadLetterTopic(`${service}.relay`);

/** The consumer group of a service's processor: `<service>.<processor name>`. */
export const processorGroupId = (service: string, definition: AnyProcessorDefinition) =>
  `${service}.${definition.name}`;

/** The consumer group of a service's command endpoint: `<service>.<entity type>.commands`. */
export const commandGroupId = (service: string, endpoint: CommandEndpoint) =>
  `${service}.${commandsTopic(endpoint.entity.type)}`;

/**
 * The dead-letter topics of a service's processors, command endpoints and, when it has one, its
 * outbox relay: what the service creates at start, and what a dead-letter index of that service
 * reads.
 */
/** The replay topics of a service's consumer groups (see {@link replayTopic}). */
export function serviceReplayTopics(
  service: string,
  processors: readonly AnyProcessorDefinition[],
  endpoints: readonly CommandEndpoint[],
): string[] {
  return [
    ...processors.map((p) => replayTopic(processorGroupId(service, p))),
    ...endpoints.map((e) => replayTopic(commandGroupId(service, e))),
  ];
}

export function serviceDeadLetterTopics(
  service: string,
  processors: readonly AnyProcessorDefinition[],
  endpoints: readonly CommandEndpoint[],
  options: { readonly relay?: boolean } = {},
): string[] {
  return [
    ...processors.map((p) => deadLetterTopic(processorGroupId(service, p))),
    ...endpoints.map((e) => deadLetterTopic(commandGroupId(service, e))),
    ...(options.relay === true ? [relayDeadLetterTopic(service)] : []),
  ];
}

/** Options of {@link ProcessorRuntime}. */
export interface ProcessorRuntimeOptions {
  /** The service the processors belong to; prefixes their consumer groups. */
  readonly service: string;
  readonly subscriber: MessageSubscriber;
  /** Publishes dead letters. */
  readonly publisher: MessagePublisher;
  readonly serde: EventSerde;
  readonly entities: EntityService;
  /** Attempts of a handler that fails with a retriable error before dead-lettering. @default 5 */
  readonly maxAttempts?: number;
  /** @default {@link defaultBackoff} */
  readonly backoff?: BackoffPolicy;
  /** Told about each dead letter. @default ignore */
  readonly onDeadLetter?: (message: BusMessage) => void;
  /** Told about retries and infrastructure errors. @default ignore */
  readonly onError?: (error: unknown, message: ReceivedMessage) => void;
  /** Counts and times the messages handled. @default none */
  readonly metrics?: SagaflowMetrics;
  /**
   * Where lines about messages go (debug: handled, with the payload redacted by the serde if it
   * can; warn: retried; error: dead-lettered), each with saga id, event id, service and trace
   * id. @default none
   */
  readonly logger?: SagaflowLogger;
  /**
   * How long a message of a saga waits (for a workflow version not deployed, the schema registry)
   * before the processor tells the admin's tracker, with a `SagaMessageWaiting` notice on the saga
   * notice topic (and `SagaMessageResumed` when it no longer waits). @default 1000
   */
  readonly noticeAfterMs?: number;
}

/** The type of a consumed message: its command type, else its event type. */
const messageTypeOf = (h: Readonly<Record<string, string>>) =>
  h[commandHeaderNames.commandType] ?? h[headerNames.eventType] ?? 'unknown';

/** The id of a consumed message: its command id, else its event id. */
const messageIdOf = (h: Readonly<Record<string, string>>) =>
  h[commandHeaderNames.commandId] ?? h[headerNames.eventId];

/** The fields every log line about a message carries. */
export function messageLogFields(
  service: string,
  groupId: string,
  message: ReceivedMessage,
): Record<string, unknown> {
  const h = message.headers;
  const traceparent = h[headerNames.traceparent];
  return {
    service,
    group: groupId,
    sagaId: h[headerNames.sagaId],
    eventId: messageIdOf(h),
    type: messageTypeOf(h),
    entityId: h[headerNames.entityId],
    traceId: traceparent === undefined ? undefined : traceIdOf(traceparent),
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
  };
}

/** Errors that mean "the infrastructure is away": wait for it, never dead-letter. */
const BLOCKING: readonly SagaflowErrorCode[] = ['STORE_UNAVAILABLE', 'PUBLISH_FAILED'];
/**
 * Errors that, when retriable, mean "what the message needs is not here yet": a schema registry
 * that does not answer (`SERDE_FAILED`), a workflow version not deployed yet
 * (`UNKNOWN_WORKFLOW`). Waited for like an outage; their terminal kinds are dead-lettered.
 */
const WAITED_WHEN_RETRIABLE: readonly SagaflowErrorCode[] = ['SERDE_FAILED', 'UNKNOWN_WORKFLOW'];

/** Whether an error is waited for, however long, instead of being dead-lettered. */
const waitedFor = (error: unknown): boolean =>
  error instanceof SagaflowError &&
  (BLOCKING.includes(error.code) ||
    (error.retriable && WAITED_WHEN_RETRIABLE.includes(error.code)));

/** Thrown inside the runtime for a message that no retry can save. */
class DeadLetter extends Error {
  constructor(
    readonly reason: string,
    readonly code: string,
  ) {
    super(reason);
  }
}

/**
 * Runs processors: decodes each event, calls its handler with retries (exponential backoff with
 * jitter, bounded), and sends what cannot be handled to the group's dead-letter topic with the
 * original bytes and headers plus the reason, source position and attempt count; the partition
 * then goes on. While the database or broker is unavailable it waits instead, so that nothing is
 * dead-lettered for an outage and nothing is lost.
 */
export class ProcessorRuntime {
  readonly #options: ProcessorRuntimeOptions;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffPolicy;
  readonly #metrics: SagaflowMetrics;
  readonly #logger: SagaflowLogger;
  #stopping = false;

  constructor(options: ProcessorRuntimeOptions) {
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw invalidArgument('maxAttempts', `must be a positive integer (got ${maxAttempts})`);
    }
    this.#options = options;
    this.#maxAttempts = maxAttempts;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#metrics = options.metrics ?? noMetrics;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The consumer group of a processor. */
  groupOf(definition: AnyProcessorDefinition): string {
    return processorGroupId(this.#options.service, definition);
  }

  /**
   * Starts consuming for the processor: its topics and its group's replay topic, which must exist
   * (a {@link SagaflowService} creates both, with the dead-letter topics, at its start).
   */
  start(definition: AnyProcessorDefinition): Promise<Subscription> {
    this.#stopping = false;
    const groupId = this.groupOf(definition);
    return this.#options.subscriber.subscribe(
      {
        groupId,
        // The group's replay topic too: dead letters an operator replays to this group alone.
        topics: [...definition.topics, replayTopic(groupId)],
        // Events of one entity in order; those of other entities side by side (by default).
        ordering: definition.ordering ?? 'key',
        onRestart: (error) => this.#restarted(groupId, error),
      },
      (message) =>
        this.#handle(groupId, message, () => this.#attempt(definition, groupId, message)),
    );
  }

  /** The consumer group of a command endpoint: `<service>.<entity type>.commands`. */
  commandGroupOf(endpoint: CommandEndpoint): string {
    return commandGroupId(this.#options.service, endpoint);
  }

  /** Starts consuming the command topic of an entity and its group's replay topic (see {@link start}). */
  startCommands(endpoint: CommandEndpoint): Promise<Subscription> {
    this.#stopping = false;
    const groupId = this.commandGroupOf(endpoint);
    return this.#options.subscriber.subscribe(
      {
        groupId,
        topics: [commandsTopic(endpoint.entity.type), replayTopic(groupId)],
        // Commands of one entity in order; those of other entities side by side.
        ordering: 'key',
        onRestart: (error) => this.#restarted(groupId, error),
      },
      (message) => this.#handle(groupId, message, () => this.#command(endpoint, groupId, message)),
    );
  }

  async #command(
    endpoint: CommandEndpoint,
    groupId: string,
    message: ReceivedMessage,
  ): Promise<void> {
    let command: CommandEnvelope;
    try {
      command = readCommandEnvelope(message.headers);
    } catch (error) {
      throw new DeadLetter(
        `malformed command envelope: ${(error as Error).message}`,
        'SERDE_FAILED',
      );
    }
    if (command.entityType !== endpoint.entity.type) {
      throw new DeadLetter(
        `a command for ${command.entityType} on the topic of ${endpoint.entity.type}`,
        'SERDE_FAILED',
      );
    }
    const route = Object.hasOwn(endpoint.commands, command.type)
      ? endpoint.commands[command.type]
      : undefined;
    if (route === undefined) {
      throw new DeadLetter(
        `${endpoint.entity.type} accepts no command '${command.type}' (accepted: ${Object.keys(endpoint.commands).join(', ')})`,
        'UNKNOWN_COMMAND',
      );
    }
    if (message.value === null) throw new DeadLetter('the command has no value', 'SERDE_FAILED');
    const payload = await this.#decode(command.type, message.value);
    this.#logPayload(groupId, message, command.type, payload);
    const result = await this.#options.entities.execute(
      endpoint.entity,
      command.entityId,
      route,
      payload,
      {
        causationKey: commandCausationKey(command.commandId),
        causationId: command.commandId,
        sagaId: endpoint.ownSaga === true ? command.entityId : command.sagaId,
        ...(command.traceparent === undefined ? {} : { traceparent: command.traceparent }),
        source: {
          group: groupId,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
        },
        replyToCommand: { commandId: command.commandId, commandType: command.type },
      },
    );
    if (result.status === 'duplicate') {
      // A command sent again gets the same reply again: the same events, with the same ids, for
      // the sender to drop if it has them already. Idempotent, so published outside the outbox,
      // but only once the relay has published the commit: a copy never overtakes the events of
      // the entity's earlier versions (or the original).
      await this.#options.entities.published(
        endpoint.entity.type,
        command.entityId,
        result.version,
        commandCausationKey(command.commandId),
        () => this.#stopping,
      );
      const replies: BusMessage[] = [];
      for (const event of result.events) {
        const encoded = await this.#options.serde.encode(event.type, event.payload);
        replies.push(eventMessage(event, encoded.value, encoded.schema));
      }
      await this.#options.publisher.publish(replies);
    }
  }

  async #decode(type: string, value: Buffer): Promise<Record<string, unknown>> {
    try {
      return await this.#options.serde.decode(type, value);
    } catch (error) {
      if (error instanceof SagaflowError && error.retriable) throw error;
      throw new DeadLetter(
        `cannot decode ${type}: ${error instanceof Error ? error.message : String(error)}`,
        'SERDE_FAILED',
      );
    }
  }

  /** A debug line with the payload, only where the serde can redact it. */
  #logPayload(
    groupId: string,
    message: ReceivedMessage,
    type: string,
    payload: Record<string, unknown>,
  ): void {
    const { serde } = this.#options;
    if (serde.redact === undefined || this.#logger.isLevelEnabled?.('debug') !== true) return;
    this.#logger.debug(
      {
        ...messageLogFields(this.#options.service, groupId, message),
        payload: serde.redact(type, payload),
      },
      `${type} received`,
    );
  }

  /** Makes handlers waiting on an outage give up, so that subscriptions can stop. */
  stopping(): void {
    this.#stopping = true;
  }

  #restarted(groupId: string, error: unknown): void {
    this.#metrics.consumerRestarted({ group: groupId });
    this.#logger.warn(
      { service: this.#options.service, group: groupId, err: error },
      'consumer restarted after a crash',
    );
  }

  /**
   * Handles one message in a consumer span whose parent is the message's `traceparent` (the
   * producer's span in the sending service), timed and counted by outcome.
   */
  async #handle(
    groupId: string,
    message: ReceivedMessage,
    attempt: () => Promise<void | 'skipped'>,
  ): Promise<void> {
    const h = message.headers;
    const type = messageTypeOf(h);
    const started = performance.now();
    let outcome: MessageOutcome = 'failed';
    try {
      outcome = await inSpan(
        `${message.topic} process`,
        {
          kind: SpanKind.CONSUMER,
          traceparent: h[headerNames.traceparent],
          remote: true,
          attributes: () => {
            const id = messageIdOf(h);
            return {
              [spanAttributes.service]: this.#options.service,
              [spanAttributes.system]: 'kafka',
              [spanAttributes.operation]: 'process',
              [spanAttributes.destination]: message.topic,
              [spanAttributes.partition]: String(message.partition),
              [spanAttributes.offset]: message.offset,
              [spanAttributes.group]: groupId,
              [spanAttributes.eventType]: type,
              ...(message.key === null ? {} : { [spanAttributes.messageKey]: message.key }),
              ...(h[headerNames.sagaId] === undefined
                ? {}
                : { [spanAttributes.sagaId]: h[headerNames.sagaId] }),
              ...(h[headerNames.entityId] === undefined
                ? {}
                : { [spanAttributes.entityId]: h[headerNames.entityId] }),
              ...(id === undefined ? {} : { [spanAttributes.messageId]: id }),
            };
          },
        },
        async (span) => {
          const result = await this.#attempts(groupId, message, type, attempt);
          span.setAttribute(spanAttributes.outcome, result);
          return result;
        },
      );
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.#metrics.messageHandled(
        { group: groupId, topic: message.topic, type, outcome },
        seconds,
      );
      if (outcome !== 'failed' && this.#logger.isLevelEnabled?.('debug') !== false) {
        this.#logger.debug(
          {
            ...messageLogFields(this.#options.service, groupId, message),
            outcome,
            ms: Math.round(seconds * 1000),
          },
          `${type} ${outcome}`,
        );
      }
    }
  }

  async #attempts(
    groupId: string,
    message: ReceivedMessage,
    type: string,
    attempt: () => Promise<void | 'skipped'>,
  ): Promise<MessageOutcome> {
    /** What the message waits for, while it does (counted by `messageWaiting`). */
    let waitingFor: string | undefined;
    /** When it started to wait, and whether the tracker was told (a saga notice). */
    let waitingSince: Date | undefined;
    let noticed = false;
    let ended: SagaMessageResumed['outcome'] | undefined;
    const waiting = (code: string | undefined) => {
      if (code === waitingFor) return;
      if (waitingFor !== undefined) {
        this.#metrics.messageWaiting?.({ group: groupId, code: waitingFor }, -1);
      }
      if (code !== undefined) this.#metrics.messageWaiting?.({ group: groupId, code }, 1);
      waitingFor = code;
    };
    try {
      for (let attempts = 1; ; attempts += 1) {
        let skipped = false;
        const outcome = await attempt().then(
          (result) => {
            skipped = result === 'skipped';
            return undefined;
          },
          (error: unknown) => error,
        );
        if (outcome === undefined) {
          ended = 'handled';
          return skipped ? 'skipped' : 'handled';
        }
        if (outcome instanceof DeadLetter) {
          await this.#deadLetter(groupId, message, type, outcome.reason, outcome.code, attempts);
          ended = 'dead-lettered';
          return 'dead-lettered';
        }
        const error = outcome;
        const code = error instanceof SagaflowError ? error.code : 'HANDLER_FAILED';
        const blocking = waitedFor(error);
        const retriable = blocking || !(error instanceof SagaflowError) || error.retriable;
        const reason = error instanceof Error ? error.message : JSON.stringify(error);
        if (!retriable || (!blocking && attempts >= this.#maxAttempts)) {
          await this.#deadLetter(groupId, message, type, reason, code, attempts);
          ended = 'dead-lettered';
          return 'dead-lettered';
        }
        this.#options.onError?.(error, message);
        this.#metrics.messageRetried({ group: groupId, type });
        waiting(blocking ? code : undefined);
        if (blocking) {
          waitingSince ??= new Date();
          const waited = Date.now() - waitingSince.getTime();
          if (!noticed && waited >= (this.#options.noticeAfterMs ?? 1000)) {
            noticed = true;
            void this.#notice(message, SAGA_MESSAGE_WAITING, {
              group: groupId,
              code,
              reason,
              messageType: type,
              since: waitingSince.toISOString(),
            });
          }
        }
        this.#logger.warn(
          { ...messageLogFields(this.#options.service, groupId, message), attempts, code, reason },
          `${type} failed, retrying`,
        );
        if (this.#stopping) {
          throw new SagaflowError('PUBLISH_FAILED', `stopping while retrying: ${reason}`, {
            retriable: true,
          });
        }
        await sleep(backoffDelay(this.#backoff, Math.min(attempts, 20)));
      }
    } finally {
      waiting(undefined);
      // A process that stops while it waits says nothing: the message waits on, for the next
      // process to take it (a view drops the wait once the saga moves on).
      if (noticed && ended !== undefined) {
        void this.#notice(message, SAGA_MESSAGE_RESUMED, { group: groupId, outcome: ended });
      }
    }
  }

  /**
   * Tells the admin's tracker about a message of a saga that waits (a saga notice, published
   * straight to the notice topic: it informs, nothing depends on it). A message without a saga
   * id, or a notice that cannot be sent, is only logged.
   */
  async #notice(
    message: ReceivedMessage,
    type: typeof SAGA_MESSAGE_WAITING | typeof SAGA_MESSAGE_RESUMED,
    fields: Omit<SagaMessageWaiting, 'sagaId'> | Omit<SagaMessageResumed, 'sagaId'>,
  ): Promise<void> {
    const sagaId = message.headers[headerNames.sagaId];
    if (sagaId === undefined || sagaId === '') return;
    try {
      const payload = { sagaId, ...fields };
      const encoded = await this.#options.serde.encode(type, payload);
      const eventId = newId();
      const event: OutboxEvent = {
        eventId,
        type,
        entityType: sagaNoticeEntityType,
        entityId: sagaId,
        // Notices are not versions of anything: each one stands alone.
        version: 1,
        index: 0,
        payload,
        metadata: {
          sagaId,
          causationId: messageIdOf(message.headers) ?? eventId,
          service: this.#options.service,
        },
        occurredAt: new Date().toISOString(),
      };
      await this.#options.publisher.publish([eventMessage(event, encoded.value, encoded.schema)]);
    } catch (error) {
      this.#options.onError?.(error, message);
    }
  }

  async #attempt(
    definition: AnyProcessorDefinition,
    groupId: string,
    message: ReceivedMessage,
  ): Promise<void | 'skipped'> {
    let envelope: EventEnvelope;
    try {
      envelope = readEnvelope(message.headers);
    } catch (error) {
      throw new DeadLetter(`malformed envelope: ${(error as Error).message}`, 'SERDE_FAILED');
    }
    if (definition.filter !== undefined && !definition.filter(envelope)) return 'skipped';
    const handler = Object.hasOwn(definition.handlers, envelope.type)
      ? (definition.handlers[envelope.type] as EventHandler | undefined)
      : definition.ignore?.includes(envelope.type) === true
        ? undefined
        : definition.fallback;
    if (handler === undefined) {
      if (definition.ignore?.includes(envelope.type) === true) return 'skipped';
      throw new DeadLetter(
        `no handler for the event type '${envelope.type}' (handled: ${Object.keys(definition.handlers).join(', ')}; ignored: ${definition.ignore?.join(', ') || 'none'})`,
        'UNKNOWN_EVENT_TYPE',
      );
    }
    if (message.value === null) {
      throw new DeadLetter('the message has no value', 'SERDE_FAILED');
    }
    const payload = await this.#decode(envelope.type, message.value);
    this.#logPayload(groupId, message, envelope.type, payload);
    let sent = 0;
    const context: ProcessorContext = {
      load: (entity, entityId) => this.#options.entities.load(entity, entityId),
      execute: (entity, entityId, command, commandPayload, options) =>
        this.#options.entities.execute(entity, entityId, command, commandPayload, {
          causationKey: keyedBy(definition.name, options?.idempotencyKey, envelope.eventId, sent++),
          causationId: options?.causationId ?? envelope.eventId,
          sagaId: envelope.sagaId,
          ...(envelope.traceparent === undefined ? {} : { traceparent: envelope.traceparent }),
          source: {
            group: groupId,
            topic: message.topic,
            partition: message.partition,
            offset: message.offset,
          },
        }),
    };
    await handler(
      {
        ...envelope,
        payload,
        headers: message.headers,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
      },
      context,
    );
  }

  async #deadLetter(
    groupId: string,
    message: ReceivedMessage,
    type: string,
    reason: string,
    code: string,
    attempts: number,
  ): Promise<void> {
    const letter: BusMessage = {
      topic: deadLetterTopic(groupId),
      key: message.key ?? '',
      value: message.value ?? Buffer.alloc(0),
      headers: {
        ...message.headers,
        [deadLetterHeaders.id]: `${groupId}/${message.topic}/${message.partition}/${message.offset}`,
        [deadLetterHeaders.reason]: reason,
        [deadLetterHeaders.errorCode]: code,
        [deadLetterHeaders.sourceTopic]: message.topic,
        [deadLetterHeaders.sourcePartition]: String(message.partition),
        [deadLetterHeaders.sourceOffset]: message.offset,
        [deadLetterHeaders.group]: groupId,
        [deadLetterHeaders.attempts]: String(attempts),
        [deadLetterHeaders.failedAt]: new Date().toISOString(),
      },
    };
    // If this fails the handler throws, the offset is not committed, and the message comes back.
    await this.#options.publisher.publish([letter]);
    this.#metrics.deadLettered({ group: groupId, type, code });
    this.#logger.error(
      { ...messageLogFields(this.#options.service, groupId, message), attempts, code, reason },
      `${type} dead-lettered to ${letter.topic}`,
    );
    this.#options.onDeadLetter?.(letter);
  }
}
