import { invalidArgument, SagaflowError } from '../errors.js';
import type { StateReplay } from './commit.js';

/** An event as a command handler returns it: its type and its payload. */
export type EventOf<Events extends Record<string, object>> = {
  [K in keyof Events & string]: { readonly type: K; readonly payload: Events[K] };
}[keyof Events & string];

/** A business refusal of a command: nothing is written, the caller gets the reason. */
export class Rejection {
  readonly reason: string;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(reason: string, details: Readonly<Record<string, unknown>> = {}) {
    this.reason = reason;
    this.details = details;
  }
}

/** Refuses a command with a reason (and optional details). */
export const reject = (reason: string, details?: Readonly<Record<string, unknown>>) =>
  new Rejection(reason, details);

/** What a command handler sees besides the state and the command. */
export interface CommandContext {
  readonly entityId: string;
  /** The version the state is at (0 before the first commit). */
  readonly version: number;
  readonly sagaId: string;
  /** ISO-8601 time of this attempt. */
  readonly now: string;
}

/** Where an outbox command goes: an entity's command topic, under a stable command id. */
export interface CommandRoute {
  /** Unique per command and stable across resends; the receiving entity applies it once. */
  readonly commandId: string;
  readonly entityType: string;
  readonly entityId: string;
}

/**
 * A command that a commit sends to another entity's command topic through its outbox, instead of
 * an event: published by the relay exactly like the commit's events, and not applied to the state.
 */
export interface OutboxCommand {
  /** The command's schema type, e.g. `ReserveStock`. */
  readonly type: string;
  readonly payload: object;
  readonly command: CommandRoute;
}

/**
 * A decision that sets the new state itself instead of deriving it with `evolve`: for entities
 * whose state is a record of a process (a workflow) rather than the sum of their events. With no
 * entries (and a new state object) it is a silent change: a commit without events, which nothing
 * publishes (no outbox entry, no Kafka write), e.g. an entry leaving a state once it is settled.
 */
export class StateChange<S> {
  readonly state: S;
  readonly entries: readonly (EventOf<Record<string, object>> | OutboxCommand)[];
  constructor(state: S, entries: readonly (EventOf<Record<string, object>> | OutboxCommand)[]) {
    this.state = state;
    this.entries = entries;
  }
}

/**
 * What a command handler decides: events (and outbox commands) to commit (none is a no-op), a
 * rejection, or a {@link StateChange}.
 */
export type Decision<Events extends Record<string, object>, S = never> =
  readonly (EventOf<Events> | OutboxCommand)[] | Rejection | StateChange<S>;

/**
 * An entity: its state, the commands it accepts, and how each event changes the state. Handlers
 * decide from the current state; `evolve` applies one event. Both must be deterministic.
 */
export interface EntityDefinition<
  S,
  Commands extends Record<string, object>,
  Events extends Record<string, object>,
> {
  /**
   * `<domain>.<entity>`, lower case, e.g. `inventory.stock`. Names its topics
   * (`inventory.stock.events`, `inventory.stock.commands`) and its storage.
   */
  readonly type: string;
  /** The state of an entity that has no commit yet. */
  readonly initialState: () => S;
  readonly commands: {
    readonly [K in keyof Commands & string]: (
      state: S,
      command: Commands[K],
      context: CommandContext,
    ) => Decision<Events, S> | Promise<Decision<Events, S>>;
  };
  readonly evolve: (state: S, event: EventOf<Events>) => S;
}

const ENTITY_TYPE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/** Checks and returns an entity definition; a bad one throws naming the field. */
export function defineEntity<
  S,
  Commands extends Record<string, object>,
  Events extends Record<string, object>,
>(definition: EntityDefinition<S, Commands, Events>): EntityDefinition<S, Commands, Events> {
  if (typeof definition.type !== 'string' || !ENTITY_TYPE.test(definition.type)) {
    throw invalidArgument(
      'type',
      `must be '<domain>.<entity>' in lower case, like 'inventory.stock' (got '${String(definition.type)}')`,
    );
  }
  if (typeof definition.initialState !== 'function') {
    throw invalidArgument('initialState', 'must be a function returning the empty state');
  }
  if (typeof definition.evolve !== 'function') {
    throw invalidArgument('evolve', 'must be a function (state, event) => state');
  }
  const names = Object.keys(definition.commands ?? {});
  if (names.length === 0) throw invalidArgument('commands', 'must define at least one command');
  for (const name of names) {
    if (typeof definition.commands[name as keyof Commands & string] !== 'function') {
      throw invalidArgument(`commands.${name}`, 'must be a function (state, command, context)');
    }
  }
  return definition;
}

/** Throws UNKNOWN_COMMAND when the entity has no such command. */
export function commandHandler<
  S,
  C extends Record<string, object>,
  E extends Record<string, object>,
>(definition: EntityDefinition<S, C, E>, name: string) {
  const handler = Object.hasOwn(definition.commands, name)
    ? definition.commands[name as keyof C & string]
    : undefined;
  if (handler === undefined) {
    throw new SagaflowError(
      'UNKNOWN_COMMAND',
      `${definition.type} has no command '${name}' (known: ${Object.keys(definition.commands).join(', ')})`,
      { context: { entityType: definition.type } },
    );
  }
  return handler;
}

/** How a store rebuilds an entity's state from its events (see {@link StateReplay}). */
export const replayOf = <S, C extends Record<string, object>, E extends Record<string, object>>(
  definition: EntityDefinition<S, C, E>,
): StateReplay => ({
  initialState: definition.initialState,
  evolve: (state, event) => definition.evolve(state as S, event as EventOf<E>),
});
