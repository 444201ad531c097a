import { backoffDelay, defaultBackoff, sleep, type BackoffPolicy } from '../backoff.js';
import type { Commit, EntitySnapshot, MessageSource, OutboxEvent } from './commit.js';
import {
  commandHandler,
  Rejection,
  StateChange,
  type CommandRoute,
  type EntityDefinition,
  type EventOf,
} from './entity.js';
import type { EntityStore } from './entity-store.js';
import { invalidArgument, SagaflowError } from '../errors.js';
import { eventIdOf, newId } from '../ids.js';
import { commandsTopic, eventsTopic } from '../messaging/envelope.js';
import {
  noMetrics,
  type CommandOutcome,
  type SagaflowMetrics,
} from '../telemetry/instrumentation.js';
import { inSpan, producedSpan, spanAttributes, SpanKind } from '../telemetry/telemetry.js';
import { COMMAND_ACCEPTED, COMMAND_REJECTED } from './command-message.js';

/** Options of {@link EntityService}. */
export interface EntityServiceOptions {
  readonly store: EntityStore;
  /** Name of the service that owns the entities; stamped on every event. */
  readonly service: string;
  /** Attempts of one command when other commands keep winning the race. @default 10 */
  readonly maxAttempts?: number;
  /** Backoff between attempts after a conflict. @default {@link defaultBackoff} */
  readonly backoff?: BackoffPolicy;
  /** Clock, for tests. @default () => new Date() */
  readonly clock?: () => Date;
  /** Called after each commit is stored, e.g. to wake the relay. @default none */
  readonly onCommitted?: (commit: Commit) => void;
  /**
   * Checks each event payload before anything is written (the serde's schema check), so that an
   * event that could never be published is refused with the command. @default none
   */
  readonly checkEvent?: (eventType: string, payload: unknown) => void;
  /**
   * Called with each commit just before it is appended; if it throws, nothing is appended and
   * the command fails. Lets a caller record what the commit will need afterwards (a timer) before
   * the commit exists, so that a crash in between never loses it. @default none
   */
  readonly beforeAppend?: (commit: Commit) => Promise<void>;
  /**
   * Whether what `beforeAppend` records for a commit that then loses its version to another
   * writer (a conflict) is harmless: commands may then start from the state this process saw
   * last, as they do without the hook (one read instead of several). @default false
   */
  readonly beforeAppendToleratesConflicts?: boolean;
  /** Counts and times the commands handled. @default none */
  readonly metrics?: SagaflowMetrics;
}

/** Where a command comes from: what makes it unique, and the saga it belongs to. */
export interface CommandOrigin {
  /**
   * Unique per message that causes the command (and per command within it): a second command
   * with the same key on the same entity is not applied again. Use the idempotency key of an
   * HTTP request, the command id of a command message, or `<eventId>#<n>` for the n-th command
   * a processor sends for one event.
   * @default a fresh id: the command is applied each time it is sent
   */
  readonly causationKey?: string;
  /** The id of the causing message. @default the causation key */
  readonly causationId?: string;
  /** The saga the command belongs to. @default a new saga id */
  readonly sagaId?: string;
  /** Trace context of the causing message; events get a child of it. @default a new trace */
  readonly traceparent?: string;
  /** Where the causing message was consumed, when it came from a topic. */
  readonly source?: MessageSource;
  /**
   * The command came from a command topic and must be answered: a rejection is committed as a
   * `CommandRejected` event and a command with nothing to change as `CommandAccepted`, instead of
   * writing nothing. @default none
   */
  readonly replyToCommand?: { readonly commandId: string; readonly commandType: string };
}

/** What happened to a command. */
export type CommandResult<S> =
  | {
      readonly status: 'committed' | 'duplicate';
      readonly version: number;
      readonly state: S;
      readonly events: readonly OutboxEvent[];
      readonly sagaId: string;
    }
  | { readonly status: 'rejected'; readonly rejection: Rejection; readonly version: number }
  /** The handler decided on no event: nothing was written. */
  | { readonly status: 'unchanged'; readonly version: number; readonly state: S };

const KEY = /^\S{1,200}$/;
/** Pauses between looks at whether a commit is published. */
const PUBLISHED_POLL: BackoffPolicy = { initialMs: 20, maxMs: 1000, multiplier: 2 };

/**
 * Runs commands against entities: loads the state, lets the handler decide, and appends the
 * resulting commit with its outbox in one atomic write. The commands of one entity run one at a
 * time in a process (those of different entities side by side); when another process took the
 * version first, a command retries on the fresh state; a command whose causation key was already
 * applied returns the earlier result without applying it again.
 */
export class EntityService {
  readonly #store: EntityStore;
  readonly #service: string;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffPolicy;
  readonly #clock: () => Date;
  readonly #onCommitted: ((commit: Commit) => void) | undefined;
  readonly #checkEvent: ((eventType: string, payload: unknown) => void) | undefined;
  readonly #beforeAppend: ((commit: Commit) => Promise<void>) | undefined;
  readonly #staleStart: boolean;
  readonly #metrics: SagaflowMetrics;
  /** The last command in hand of each entity (type and id): the next one starts after it. */
  readonly #inHand = new Map<string, Promise<unknown>>();

  constructor(options: EntityServiceOptions) {
    if (typeof options.service !== 'string' || options.service.trim() === '') {
      throw invalidArgument('service', 'must be a non-empty string');
    }
    const maxAttempts = options.maxAttempts ?? 10;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw invalidArgument('maxAttempts', `must be a positive integer (got ${maxAttempts})`);
    }
    this.#store = options.store;
    this.#service = options.service;
    this.#maxAttempts = maxAttempts;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#clock = options.clock ?? (() => new Date());
    this.#onCommitted = options.onCommitted;
    this.#metrics = options.metrics ?? noMetrics;
    this.#checkEvent = options.checkEvent;
    this.#beforeAppend = options.beforeAppend;
    this.#staleStart =
      options.beforeAppend === undefined || options.beforeAppendToleratesConflicts === true;
  }

  /**
   * Resolves once a commit's events are published: at once when they are, else after looking
   * again with growing pauses (the relay publishes a commit only after those before it).
   */
  async published(
    entityType: string,
    entityId: string,
    version: number,
    causationKey: string,
    stopping: () => boolean = () => false,
  ): Promise<void> {
    const ref = { entityType, entityId, version, causationKey };
    for (let attempt = 1; !(await this.#store.isPublished(ref)); attempt += 1) {
      if (stopping()) {
        throw new SagaflowError(
          'PUBLISH_FAILED',
          `stopping before ${entityId}@${version} was published`,
          {
            retriable: true,
          },
        );
      }
      await sleep(backoffDelay(PUBLISHED_POLL, attempt));
    }
  }

  /** The current state of an entity: its initial state at version 0 when it has no commit. */
  async load<S, C extends Record<string, object>, E extends Record<string, object>>(
    definition: EntityDefinition<S, C, E>,
    entityId: string,
  ): Promise<EntitySnapshot<S>> {
    const snapshot = await this.#store.load<S>(definition.type, entityId);
    return snapshot ?? { state: definition.initialState(), version: 0 };
  }

  /**
   * Sends a command to one entity, in a span of its own (a child of the active span, or of the
   * origin's `traceparent`); each event it commits gets a producer span and that span's
   * `traceparent`.
   */
  async execute<
    S,
    C extends Record<string, object>,
    E extends Record<string, object>,
    K extends keyof C & string,
  >(
    definition: EntityDefinition<S, C, E>,
    entityId: string,
    name: K,
    command: C[K],
    origin: CommandOrigin = {},
  ): Promise<CommandResult<S>> {
    const started = performance.now();
    let outcome: CommandOutcome = 'failed';
    try {
      const result = await inSpan(
        `${definition.type} ${name}`,
        {
          kind: SpanKind.INTERNAL,
          traceparent: origin.traceparent,
          attributes: () => ({
            [spanAttributes.service]: this.#service,
            [spanAttributes.entityType]: definition.type,
            [spanAttributes.entityId]: String(entityId),
            [spanAttributes.command]: name,
            ...(origin.sagaId === undefined ? {} : { [spanAttributes.sagaId]: origin.sagaId }),
          }),
        },
        async (span) => {
          const handled = await this.#oneAtATime(`${definition.type}/${entityId}`, () =>
            this.#execute(definition, entityId, name, command, origin),
          );
          span.setAttribute(spanAttributes.outcome, handled.status);
          if (handled.status === 'committed' || handled.status === 'duplicate') {
            span.setAttribute(spanAttributes.sagaId, handled.sagaId);
          }
          return handled;
        },
      );
      outcome = result.status;
      return result;
    } finally {
      this.#metrics.commandHandled(
        { entityType: definition.type, command: name, outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  /**
   * Runs a command of an entity once the commands of that entity in hand before it have ended:
   * run together, they would decide on the same version and all but one would conflict, then
   * load again and retry after a pause.
   */
  #oneAtATime<T>(entity: string, run: () => Promise<T>): Promise<T> {
    const before = this.#inHand.get(entity);
    const result = before === undefined ? run() : before.then(run, run);
    const settled = result.then(
      () => {},
      () => {},
    );
    this.#inHand.set(entity, settled);
    void settled.then(() => {
      if (this.#inHand.get(entity) === settled) this.#inHand.delete(entity);
    });
    return result;
  }

  async #execute<
    S,
    C extends Record<string, object>,
    E extends Record<string, object>,
    K extends keyof C & string,
  >(
    definition: EntityDefinition<S, C, E>,
    entityId: string,
    name: K,
    command: C[K],
    origin: CommandOrigin = {},
  ): Promise<CommandResult<S>> {
    if (typeof entityId !== 'string' || !KEY.test(entityId)) {
      throw invalidArgument('entityId', 'must be 1 to 200 characters without spaces');
    }
    if (origin.causationKey !== undefined && !KEY.test(origin.causationKey)) {
      throw invalidArgument('causationKey', 'must be 1 to 200 characters without spaces');
    }
    const handler = commandHandler(definition, name);
    const causationKey = origin.causationKey ?? newId();
    const causationId = origin.causationId ?? causationKey;
    for (let attempt = 1; ; attempt += 1) {
      // The first attempt may start from what the store saw last: if another process wrote
      // since, the append conflicts and the next attempt loads afresh. Not with a beforeAppend
      // hook, unless it says so: what it records for a commit decided on a stale state would
      // outlive the conflict.
      const mayBeStale = attempt === 1 && this.#staleStart;
      const snapshot = await this.#store.load<S>(definition.type, entityId, { mayBeStale });
      const version = snapshot?.version ?? 0;
      const state = snapshot?.state ?? definition.initialState();
      const sagaId = origin.sagaId ?? newId();
      const now = this.#clock().toISOString();
      const raw = await handler(state, command, { entityId, version, sagaId, now });
      const direct = raw instanceof StateChange ? raw : undefined;
      const decision =
        direct === undefined ? (raw as Exclude<typeof raw, StateChange<S>>) : direct.entries;
      const reply = origin.replyToCommand;
      // A decision that writes nothing is not checked by an append: make it on the fresh state.
      // A silent change writes (its append is checked like any other).
      const silent = direct !== undefined && direct.entries.length === 0 && direct.state !== state;
      const writesNothing =
        reply === undefined &&
        (decision instanceof Rejection || (decision.length === 0 && !silent));
      if (writesNothing && mayBeStale) continue;
      if (decision instanceof Rejection && reply === undefined) {
        return { status: 'rejected', rejection: decision, version };
      }
      // A command from a command topic always gets a reply: a refusal is answered by a
      // CommandRejected event and a command with nothing to change by CommandAccepted, committed
      // like any other event so that a redelivered command gets the same answer.
      const decided: readonly { type: string; payload: object; command?: CommandRoute }[] =
        decision instanceof Rejection
          ? [
              {
                type: COMMAND_REJECTED,
                payload: {
                  commandId: reply!.commandId,
                  commandType: reply!.commandType,
                  reason: decision.reason,
                },
              },
            ]
          : decision.length === 0 && reply !== undefined
            ? [
                {
                  type: COMMAND_ACCEPTED,
                  payload: { commandId: reply.commandId, commandType: reply.commandType },
                },
              ]
            : decision;
      // Nothing to commit, unless a state change that tells nobody: a commit without events
      // (nothing to publish; see StateChange).
      if (decided.length === 0 && !silent) {
        return { status: 'unchanged', version, state };
      }
      for (const event of decided) this.#checkEvent?.(event.type, event.payload);
      const next = version + 1;
      let newState = state;
      if (direct !== undefined) newState = direct.state;
      const events = decided.map((event, index): OutboxEvent => {
        // Replies (CommandRejected, CommandAccepted) and outbox commands leave the state as it is.
        if (
          direct === undefined &&
          !(decision instanceof Rejection) &&
          decision.length > 0 &&
          event.command === undefined
        ) {
          newState = definition.evolve(newState, event as EventOf<E>);
        }
        const eventId = eventIdOf(definition.type, entityId, next, index);
        return {
          ...(event.command === undefined ? {} : { command: event.command }),
          eventId,
          type: event.type,
          entityType: definition.type,
          entityId,
          version: next,
          index,
          payload: event.payload as Record<string, unknown>,
          metadata: {
            sagaId,
            causationId,
            service: this.#service,
            traceparent: producedSpan(
              `${event.command === undefined ? eventsTopic(definition.type) : commandsTopic(event.command.entityType)} publish`,
              () => ({
                [spanAttributes.service]: this.#service,
                [spanAttributes.eventType]: event.type,
                [spanAttributes.eventId]: eventId,
                [spanAttributes.entityType]: definition.type,
                [spanAttributes.entityId]: entityId,
                [spanAttributes.sagaId]: sagaId,
                [spanAttributes.system]: 'kafka',
                [spanAttributes.operation]: 'create',
              }),
              origin.traceparent,
            ),
          },
          occurredAt: now,
        };
      });
      const commit: Commit<S> = {
        entityType: definition.type,
        entityId,
        version: next,
        state: newState,
        events,
        causationKey,
        ...(origin.source === undefined ? {} : { source: origin.source }),
        committedAt: now,
        // Events applied by evolve, as a store replaying them would (not a reply, nor a state set
        // directly).
        ...(direct === undefined && !(decision instanceof Rejection) && decision.length > 0
          ? { replayable: true }
          : {}),
        ...(silent && decided.length === 0 ? { silent: true as const } : {}),
      };
      await this.#beforeAppend?.(commit);
      const outcome = await this.#store.append(commit);
      if (outcome.status === 'appended') {
        this.#onCommitted?.(commit);
        if (decision instanceof Rejection)
          return { status: 'rejected', rejection: decision, version: next };
        return { status: 'committed', version: next, state: newState, events, sagaId };
      }
      if (outcome.status === 'duplicate') {
        const existing = outcome.existing;
        return {
          status: 'duplicate',
          version: existing.version,
          state: existing.state,
          events: existing.events,
          sagaId: existing.events[0]?.metadata.sagaId ?? sagaId,
        };
      }
      if (attempt >= this.#maxAttempts) {
        throw new SagaflowError(
          'CONCURRENCY_CONFLICT',
          `${definition.type} ${entityId}: command '${name}' lost the race for version ${next} ${attempt} times; retry later`,
          { retriable: true, context: { entityType: definition.type, entityId } },
        );
      }
      await sleep(backoffDelay(this.#backoff, attempt));
    }
  }
}
