import { invalidArgument } from '../errors.js';

/** One step of a choreography saga: who reacts to what, and with which answers. */
export interface SagaStep {
  /** Unique in the saga, e.g. `reserve-stock`. */
  readonly name: string;
  /** The service that performs the step. */
  readonly participant: string;
  /** The event type(s) that make the participant act. */
  readonly on: readonly string[];
  /** Events that say the step is done. */
  readonly success: readonly string[];
  /** Events that say the step was refused (a business rejection): compensation starts. */
  readonly failure?: readonly string[];
  /** Events that say the step was undone. */
  readonly compensation?: readonly string[];
  /** Time from the triggering event to an answer, after which the saga is stuck. */
  readonly deadlineMs?: number;
}

/**
 * A choreography saga: shared code that every participant imports and the tracker reads. It
 * drives nothing: participants react to each other's events; the definition says what to expect.
 */
export interface SagaDefinition {
  /** e.g. `order-placement`. */
  readonly type: string;
  /** The event that starts a saga (its event id becomes the saga id downstream). */
  readonly startsWith: string;
  /** Topics whose events belong to sagas of this type. */
  readonly topics: readonly string[];
  /** The payload field holding the business key (e.g. `orderId`), searched by the admin API. */
  readonly businessKey?: string;
  readonly steps: readonly SagaStep[];
  /** Events that end the saga, by outcome. */
  readonly outcomes: {
    readonly completed: readonly string[];
    readonly compensated: readonly string[];
    readonly failed?: readonly string[];
  };
  /**
   * What a missed deadline does: only mark the saga stuck, or also ask the participants to
   * compensate it. @default 'mark'
   */
  readonly onStuck?: 'mark' | 'compensate';
}

/** The event type with which sagaflow asks participants to compensate a saga. */
export const COMPENSATION_REQUESTED = 'SagaCompensationRequested';

/** What an event means within a saga. */
export type EventRole =
  | { readonly kind: 'start' }
  | { readonly kind: 'success' | 'failure' | 'compensation'; readonly step: string }
  | { readonly kind: 'outcome'; readonly outcome: 'completed' | 'compensated' | 'failed' }
  | { readonly kind: 'control' };

/** Checks and returns a saga definition; a bad one throws naming the field. */
export function defineSaga(definition: SagaDefinition): SagaDefinition {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.type)) {
    throw invalidArgument(
      'type',
      `must be lower-case words joined by '-' (got '${definition.type}')`,
    );
  }
  if (definition.steps.length === 0) throw invalidArgument('steps', 'must list at least one step');
  if (definition.topics.length === 0)
    throw invalidArgument('topics', 'must list at least one topic');
  if (definition.outcomes.completed.length === 0) {
    throw invalidArgument('outcomes.completed', 'must name at least one event');
  }
  const names = new Set<string>();
  for (const [i, step] of definition.steps.entries()) {
    if (names.has(step.name)) throw invalidArgument(`steps[${i}].name`, `repeats '${step.name}'`);
    names.add(step.name);
    if (step.on.length === 0)
      throw invalidArgument(`steps[${i}].on`, 'must name at least one event');
    if (step.success.length === 0)
      throw invalidArgument(`steps[${i}].success`, 'must name at least one event');
    if (
      step.deadlineMs !== undefined &&
      (!Number.isFinite(step.deadlineMs) || step.deadlineMs <= 0)
    ) {
      throw invalidArgument(
        `steps[${i}].deadlineMs`,
        `must be a positive number (got ${step.deadlineMs})`,
      );
    }
  }
  eventRoles(definition);
  return definition;
}

/**
 * The role of each event type in the saga. An event type may only have one role, except that a
 * step's success may also be its own or another step's trigger, and an outcome may be a success.
 */
export function eventRoles(definition: SagaDefinition): ReadonlyMap<string, EventRole> {
  const roles = new Map<string, EventRole>();
  const assign = (type: string, role: EventRole, field: string) => {
    const existing = roles.get(type);
    if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(role)) {
      throw invalidArgument(field, `gives '${type}' a second role in the saga`);
    }
    roles.set(type, role);
  };
  roles.set(definition.startsWith, { kind: 'start' });
  roles.set(COMPENSATION_REQUESTED, { kind: 'control' });
  for (const [i, step] of definition.steps.entries()) {
    for (const type of step.success)
      if (type !== definition.startsWith)
        assign(type, { kind: 'success', step: step.name }, `steps[${i}].success`);
    for (const type of step.failure ?? [])
      assign(type, { kind: 'failure', step: step.name }, `steps[${i}].failure`);
    for (const type of step.compensation ?? [])
      assign(type, { kind: 'compensation', step: step.name }, `steps[${i}].compensation`);
  }
  const outcomeRoles = new Map<string, EventRole>();
  for (const outcome of ['completed', 'compensated', 'failed'] as const) {
    for (const type of definition.outcomes[outcome] ?? [])
      outcomeRoles.set(type, { kind: 'outcome', outcome });
  }
  // Outcome events are read as outcomes (also when they complete a step: the step is then done).
  for (const [type, role] of outcomeRoles) roles.set(type, role);
  return roles;
}
