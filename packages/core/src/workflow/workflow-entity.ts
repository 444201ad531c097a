import { COMMAND_ACCEPTED, COMMAND_REJECTED } from '../entity/command-message.js';
import {
  defineEntity,
  reject,
  StateChange,
  type CommandContext,
  type EntityDefinition,
  type OutboxCommand,
} from '../entity/entity.js';
import { SagaflowError } from '../errors.js';
import {
  SLEEP_MAX_MS,
  checkSleepMs,
  defaultRetryPolicy,
  isSleepStep,
  retryDelay,
  versionOf,
  workflowCommandId,
  parseWorkflowCommandId,
  type AnyWorkflowDefinition,
  type StepContext,
  type StepOutcome,
  type WorkflowCommand,
  type WorkflowStep,
} from './workflow.js';

/** Status of a workflow instance. */
export type WorkflowStatus =
  'new' | 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';

/** The step a workflow is at, and how far it got with it. */
export interface WorkflowPosition {
  readonly phase: 'forward' | 'compensation';
  readonly step: string;
  readonly attempt: number;
  /** The command of the current attempt, once sent. */
  readonly commandId?: string;
  readonly deadlineAt?: string;
}

/**
 * The timer a workflow waits on: a view to read, a reply's deadline, a retry's delay, or the end
 * of a sleep step.
 */
export interface WorkflowTimerState {
  readonly id: string;
  readonly kind: 'read' | 'timeout' | 'retry' | 'sleep' | 'signal';
  readonly dueAt: string;
}

/**
 * The durable state of one workflow instance: stored as the state of a commit of the workflow
 * entity, together with the commands it sends (its outbox) in one write.
 */
export interface WorkflowState {
  readonly status: WorkflowStatus;
  readonly type: string;
  /** The definition version the instance runs on. */
  readonly version: number;
  readonly key: string;
  readonly input: unknown;
  readonly businessKey?: string;
  readonly results: Readonly<Record<string, unknown>>;
  /** What each step's `read` returned, wrapped so that `undefined` is kept too. */
  readonly views: Readonly<Record<string, { readonly value: unknown }>>;
  /** Forward steps done, in order. */
  readonly completed: readonly string[];
  /** Steps still to compensate, the next first. */
  readonly toCompensate: readonly string[];
  readonly current?: WorkflowPosition;
  readonly timer?: WorkflowTimerState;
  /** Signals sent before a step waited for them, by name, oldest first. */
  readonly signals?: Readonly<Record<string, readonly unknown[]>>;
  /** The workflow's deadline, a durable timer set by its start (see `deadlineMs`). */
  readonly deadline?: { readonly id: string; readonly dueAt: string };
  /** The idempotency keys of the latest signals taken or kept (a repeat changes nothing). */
  readonly signalKeys?: readonly string[];
  /** The timer this state's commit replaced, for the orchestrator to forget. */
  readonly supersededTimer?: WorkflowTimerState;
  /** Why the workflow compensates. */
  readonly reason?: string;
  /** Why the workflow failed. */
  readonly error?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
}

/** Payloads of the workflow entity's commands. */
export type WorkflowCommands = {
  Start: { type: string; version: number; key: string; input: unknown; businessKey?: string };
  Reply: {
    commandId: string;
    eventId: string;
    eventType: string;
    entityType: string;
    entityId: string;
    payload: Record<string, unknown>;
  };
  Fire: { timerId: string; view?: unknown };
  /**
   * A signal: its name, its payload as JSON, who sent it, and the sender's idempotency key ('' for
   * none).
   */
  Signal: { name: string; payload: string; requestedBy: string; key?: string };
  Retry: { requestedBy: string; reason: string };
  Cancel: { requestedBy: string; reason: string };
};

/** Payloads of the workflow entity's events (schemas in the control schemas folder). */
export type WorkflowEvents = {
  WorkflowStarted: {
    workflowId: string;
    workflowType: string;
    version: number;
    key: string;
    businessKey: string;
    steps: string;
  };
  WorkflowStepStarted: {
    workflowId: string;
    step: string;
    phase: string;
    attempt: number;
    commandId: string;
    commandType: string;
    entityType: string;
    entityId: string;
    deadlineAt: string;
  };
  WorkflowStepSucceeded: {
    workflowId: string;
    step: string;
    phase: string;
    attempt: number;
    replyType: string;
  };
  WorkflowStepRejected: {
    workflowId: string;
    step: string;
    phase: string;
    attempt: number;
    reason: string;
  };
  WorkflowStepTimedOut: {
    workflowId: string;
    step: string;
    phase: string;
    attempt: number;
    exhausted: boolean;
  };
  WorkflowCompensationStarted: { workflowId: string; reason: string; requestedBy: string };
  WorkflowRetryRequested: { workflowId: string; step: string; requestedBy: string; reason: string };
  WorkflowCompleted: { workflowId: string } & WorkflowOutcomeFields;
  WorkflowCompensated: { workflowId: string; reason: string } & WorkflowOutcomeFields;
  WorkflowFailed: { workflowId: string; step: string; reason: string } & WorkflowOutcomeFields;
};

/**
 * What the outcome events carry besides the workflow id, so that a service can react to a
 * workflow's end (e.g. reject the order it was about) without looking the workflow up.
 */
export interface WorkflowOutcomeFields {
  readonly workflowType: string;
  /** The workflow's business key ('' when it has none). */
  readonly businessKey: string;
}

/** The event types of the workflow entity. */
export const workflowEventTypes: readonly (keyof WorkflowEvents)[] = [
  'WorkflowStarted',
  'WorkflowStepStarted',
  'WorkflowStepSucceeded',
  'WorkflowStepRejected',
  'WorkflowStepTimedOut',
  'WorkflowCompensationStarted',
  'WorkflowRetryRequested',
  'WorkflowCompleted',
  'WorkflowCompensated',
  'WorkflowFailed',
];

/** The command types an operator sends to the workflow entity's command topic. */
export const workflowControlCommands = {
  RetryWorkflow: 'Retry',
  CancelWorkflow: 'Cancel',
  SignalWorkflow: 'Signal',
} as const;

/** Signals of one name a workflow keeps before a step waits for them, at most. */
export const SIGNALS_KEPT_MAX = 100;
/** Idempotency keys of signals a workflow remembers (the latest). */
const SIGNAL_KEYS_KEPT = 100;

type Entry = { readonly type: keyof WorkflowEvents; readonly payload: object } | OutboxCommand;

/** Accumulates the entries of one decision and the state they lead to. */
class Decision {
  readonly entries: Entry[] = [];
  state: WorkflowState;
  constructor(
    state: WorkflowState,
    readonly definition: AnyWorkflowDefinition,
    readonly context: CommandContext,
  ) {
    this.state = state;
  }
  get workflowId() {
    return this.context.entityId;
  }
  event<K extends keyof WorkflowEvents>(type: K, payload: Omit<WorkflowEvents[K], 'workflowId'>) {
    this.entries.push({ type, payload: { workflowId: this.workflowId, ...payload } });
  }
  set(patch: Partial<WorkflowState>) {
    this.state = { ...this.state, ...patch };
  }
  /** A timer owned by the commit this decision makes. */
  timer(kind: WorkflowTimerState['kind'], delayMs: number): WorkflowTimerState {
    return {
      id: `${this.workflowId}@${this.context.version + 1}`,
      kind,
      dueAt: new Date(Date.parse(this.context.now) + delayMs).toISOString(),
    };
  }
}

const plain = (value: unknown): unknown =>
  value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);

const reasonOf = (payload: Readonly<Record<string, unknown>>, otherwise: string) =>
  typeof payload['reason'] === 'string' ? payload['reason'] : otherwise;

const failure = (error: unknown) => (error instanceof Error ? error.message : String(error));

function stepOf(decision: Decision, name: string): { step: WorkflowStep; index: number } {
  const index = decision.definition.steps.findIndex((s) => s.name === name);
  if (index < 0) {
    throw new SagaflowError(
      'INVALID_DEFINITION',
      `${decision.definition.type} v${versionOf(decision.definition)} has no step '${name}'`,
    );
  }
  return { step: decision.definition.steps[index]!, index };
}

/** The index of the workflow's pivot step, -1 without one. */
const pivotOf = (definition: AnyWorkflowDefinition) =>
  definition.steps.findIndex((s) => s.pivot === true);

/** Whether the step at `index` comes after the workflow's pivot: it goes only forward. */
function pastPivot(decision: Decision, index: number): boolean {
  const pivot = pivotOf(decision.definition);
  return pivot >= 0 && index > pivot;
}

/**
 * The pivot step, once its command was sent (it may take effect whatever the workflow does
 * next): past it the workflow is not compensated.
 */
function sentPivot(definition: AnyWorkflowDefinition, state: WorkflowState): string | undefined {
  const pivot = pivotOf(definition);
  const name = definition.steps[pivot]?.name;
  if (name === undefined) return undefined;
  if (state.completed.includes(name)) return name;
  const current = state.current;
  if (current?.phase !== 'forward') return undefined;
  const at = definition.steps.findIndex((s) => s.name === current.step);
  return at > pivot || (at === pivot && current.commandId !== undefined) ? name : undefined;
}

function contextOf(decision: Decision, step: WorkflowStep, attempt: number): StepContext<unknown> {
  const { state } = decision;
  return {
    workflowId: decision.workflowId,
    input: state.input,
    results: state.results,
    view: state.views[step.name]?.value,
    attempt,
  };
}

/** When a sleep step wakes up: its duration or its time, checked. */
function wakeTimeOf(decision: Decision, step: WorkflowStep): number {
  const { state } = decision;
  const context = { workflowId: decision.workflowId, input: state.input, results: state.results };
  const now = Date.parse(decision.context.now);
  if (step.sleepUntil !== undefined) {
    const until = step.sleepUntil(context);
    const at = until instanceof Date ? until.getTime() : Date.parse(String(until));
    if (Number.isNaN(at)) {
      throw new Error(`sleepUntil gave no time (got ${JSON.stringify(until)})`);
    }
    return Math.max(now, Math.min(at, now + SLEEP_MAX_MS));
  }
  const ms = typeof step.sleep === 'function' ? step.sleep(context) : step.sleep;
  return now + checkSleepMs('sleep', ms);
}

/**
 * Starts a sleep step: a durable timer at its wake-up time. It shows as a started step whose
 * command type is `sleep` and whose deadline is the wake-up, and as succeeded (`woke`) then.
 */
function sleep(decision: Decision, step: WorkflowStep, index: number): void {
  let wakeAt: number;
  try {
    wakeAt = wakeTimeOf(decision, step);
  } catch (error) {
    const reason = `the sleep of step '${step.name}' threw: ${failure(error)}`;
    decision.event('WorkflowStepRejected', {
      step: step.name,
      phase: 'forward',
      attempt: 1,
      reason,
    });
    if (!pastPivot(decision, index)) return startCompensation(decision, reason, '', false);
    return fail(decision, step.name, reason);
  }
  const timer = decision.timer('sleep', wakeAt - Date.parse(decision.context.now));
  decision.event('WorkflowStepStarted', {
    step: step.name,
    phase: 'forward',
    attempt: 1,
    commandId: '',
    commandType: 'sleep',
    entityType: '',
    entityId: '',
    deadlineAt: timer.dueAt,
  });
  decision.set({
    current: { phase: 'forward', step: step.name, attempt: 1, deadlineAt: timer.dueAt },
    timer,
  });
}

/**
 * Starts a signal step: takes the oldest signal of its name kept already, or waits for one (with
 * a timer when the step has a timeout). It shows as a started step of command type `signal`
 * whose entity id is the signal's name.
 */
function awaitSignal(decision: Decision, step: WorkflowStep, index: number): void {
  const name = step.signal!;
  const kept = decision.state.signals?.[name] ?? [];
  const timer =
    step.timeoutMs === undefined || kept.length > 0
      ? undefined
      : decision.timer('signal', step.timeoutMs);
  decision.event('WorkflowStepStarted', {
    step: step.name,
    phase: 'forward',
    attempt: 1,
    commandId: '',
    commandType: 'signal',
    entityType: '',
    entityId: name,
    deadlineAt: timer?.dueAt ?? '',
  });
  const { timer: _t, ...rest } = decision.state;
  decision.state = {
    ...rest,
    current: {
      phase: 'forward',
      step: step.name,
      attempt: 1,
      ...(timer === undefined ? {} : { deadlineAt: timer.dueAt }),
    },
    ...(timer === undefined ? {} : { timer }),
  };
  if (kept.length > 0) {
    decision.set({ signals: keptWithout(decision.state, name) });
    takeSignal(decision, step, index, kept[0]);
  }
}

/** The kept signals without the oldest of a name. */
function keptWithout(state: WorkflowState, name: string): Record<string, readonly unknown[]> {
  const { [name]: of = [], ...others } = state.signals ?? {};
  return of.length > 1 ? { ...others, [name]: of.slice(1) } : others;
}

/** A signal step takes a signal: its outcome decides the step. */
function takeSignal(decision: Decision, step: WorkflowStep, index: number, payload: unknown): void {
  let outcome: StepOutcome;
  try {
    outcome = step.onSignal?.(payload, contextOf(decision, step, 1)) ?? {
      kind: 'done',
      result: payload,
    };
  } catch (error) {
    outcome = {
      kind: 'refused',
      reason: `the signal handler of step '${step.name}' threw: ${failure(error)}`,
    };
  }
  // Every outcome sets the workflow's next timer, or clears it (see decideStep).
  decideStep(
    decision,
    step,
    index,
    { step: step.name, phase: 'forward', attempt: 1 },
    outcome,
    `signal:${step.signal!}`,
  );
}

/**
 * A signal to the workflow: taken by the step that waits for it, else kept (oldest first) for the
 * step that will.
 */
function onSignal(decision: Decision, name: string, payload: unknown): void {
  const { state } = decision;
  const current = state.current;
  const waiting = current === undefined ? undefined : stepOf(decision, current.step);
  if (waiting !== undefined && current?.phase === 'forward' && waiting.step.signal === name) {
    return takeSignal(decision, waiting.step, waiting.index, payload);
  }
  decision.set({
    signals: { ...state.signals, [name]: [...(state.signals?.[name] ?? []), payload] },
  });
}

/** Sends the command of the current position's step (or its compensation) for an attempt. */
function send(
  decision: Decision,
  step: WorkflowStep,
  index: number,
  phase: WorkflowPosition['phase'],
  attempt: number,
): void {
  if (isSleepStep(step)) return sleep(decision, step, index);
  if (step.signal !== undefined) return awaitSignal(decision, step, index);
  const context = contextOf(decision, step, attempt);
  let command: WorkflowCommand;
  try {
    command =
      phase === 'forward'
        ? step.command!(context)
        : step.compensate!({ ...context, result: decision.state.results[step.name] });
  } catch (error) {
    // Workflow code that throws refuses its step (forward) or fails the workflow (compensation).
    const reason = `the ${phase === 'forward' ? 'command' : 'compensation'} of step '${step.name}' threw: ${failure(error)}`;
    decision.event('WorkflowStepRejected', { step: step.name, phase, attempt, reason });
    if (phase === 'forward' && !pastPivot(decision, index)) {
      return startCompensation(decision, reason, '', false);
    }
    return fail(decision, step.name, reason);
  }
  const commandId = workflowCommandId(decision.workflowId, phase, index, attempt);
  const timer = decision.timer('timeout', step.timeoutMs ?? 30_000);
  decision.entries.push({
    type: command.type,
    payload: plain(command.payload) as object,
    command: { commandId, entityType: step.entity!, entityId: command.entityId },
  });
  decision.event('WorkflowStepStarted', {
    step: step.name,
    phase,
    attempt,
    commandId,
    commandType: command.type,
    entityType: step.entity!,
    entityId: command.entityId,
    deadlineAt: timer.dueAt,
  });
  decision.set({
    current: { phase, step: step.name, attempt, commandId, deadlineAt: timer.dueAt },
    timer,
  });
}

/** Starts the step at `index` (reading its view first, if it has one), or completes. */
function enter(decision: Decision, index: number): void {
  const step = decision.definition.steps[index];
  if (step === undefined) {
    decision.event('WorkflowCompleted', outcomeFields(decision));
    const { current: _c, timer: _t, ...rest } = decision.state;
    decision.state = { ...rest, status: 'completed', endedAt: decision.context.now };
    return;
  }
  if (step.read !== undefined && decision.state.views[step.name] === undefined) {
    decision.set({
      current: { phase: 'forward', step: step.name, attempt: 1 },
      timer: decision.timer('read', 0),
    });
    return;
  }
  send(decision, step, index, 'forward', 1);
}

function startCompensation(
  decision: Decision,
  reason: string,
  requestedBy: string,
  includeCurrent: boolean,
): void {
  const { state } = decision;
  const names = [...state.completed];
  if (includeCurrent && state.current?.commandId !== undefined) names.push(state.current.step);
  const toCompensate = names
    .reverse()
    .filter((name) => stepOf(decision, name).step.compensate !== undefined);
  decision.event('WorkflowCompensationStarted', { reason, requestedBy });
  decision.set({ status: 'compensating', reason, toCompensate });
  compensateNext(decision);
}

function compensateNext(decision: Decision): void {
  const next = decision.state.toCompensate[0];
  if (next === undefined) {
    decision.event('WorkflowCompensated', {
      reason: decision.state.reason ?? '',
      ...outcomeFields(decision),
    });
    const { current: _c, timer: _t, ...rest } = decision.state;
    decision.state = { ...rest, status: 'compensated', endedAt: decision.context.now };
    return;
  }
  const { step, index } = stepOf(decision, next);
  send(decision, step, index, 'compensation', 1);
}

const outcomeFields = ({ state }: Decision): WorkflowOutcomeFields => ({
  workflowType: state.type,
  businessKey: state.businessKey ?? '',
});

function fail(decision: Decision, step: string, reason: string): void {
  decision.event('WorkflowFailed', { step, reason, ...outcomeFields(decision) });
  const { timer: _t, ...rest } = decision.state;
  decision.state = { ...rest, status: 'failed', error: reason, endedAt: decision.context.now };
}

function outcomeOf(
  step: WorkflowStep,
  reply: WorkflowCommands['Reply'],
  context: StepContext<unknown>,
): StepOutcome | undefined {
  const listed = step.replies?.[reply.eventType];
  const event = {
    type: reply.eventType,
    payload: reply.payload,
    entityType: reply.entityType,
    entityId: reply.entityId,
    eventId: reply.eventId,
  };
  if (listed !== undefined) {
    try {
      return typeof listed === 'function' ? listed(event, context) : listed;
    } catch (error) {
      return {
        kind: 'refused',
        reason: `the reply handler of step '${step.name}' threw: ${failure(error)}`,
      };
    }
  }
  if (reply.eventType === COMMAND_REJECTED) {
    return { kind: 'refused', reason: reasonOf(reply.payload, 'rejected') };
  }
  if (reply.eventType === COMMAND_ACCEPTED) return { kind: 'done' };
  if (step.replies !== undefined) return undefined;
  return { kind: 'done', result: reply.payload };
}

function onReply(decision: Decision, reply: WorkflowCommands['Reply']): void {
  const { state } = decision;
  const current = state.current;
  const parsed = parseWorkflowCommandId(reply.commandId);
  if (current?.commandId === undefined || parsed === undefined) return;
  const { step, index } = stepOf(decision, current.step);
  // Any attempt of the current step counts: a late reply to an earlier attempt is its answer.
  if (
    parsed.stepIndex !== index ||
    parsed.phase !== current.phase ||
    parsed.attempt > current.attempt
  )
    return;
  const base = { step: step.name, phase: current.phase, attempt: parsed.attempt };
  if (current.phase === 'compensation') {
    if (reply.eventType === COMMAND_REJECTED) {
      const reason = `the compensation of step '${step.name}' was refused: ${reasonOf(reply.payload, '')}`;
      decision.event('WorkflowStepRejected', { ...base, reason });
      return fail(decision, step.name, reason);
    }
    decision.event('WorkflowStepSucceeded', { ...base, replyType: reply.eventType });
    decision.set({ toCompensate: state.toCompensate.slice(1) });
    return compensateNext(decision);
  }
  const outcome = outcomeOf(step, reply, contextOf(decision, step, parsed.attempt));
  if (outcome === undefined) return;
  decideStep(decision, step, index, base, outcome, reply.eventType);
}

/** Ends a forward step as its outcome says: refused (compensate or fail), or done (go on). */
function decideStep(
  decision: Decision,
  step: WorkflowStep,
  index: number,
  base: { step: string; phase: WorkflowPosition['phase']; attempt: number },
  outcome: StepOutcome,
  replyType: string,
): void {
  const { state } = decision;
  if (outcome.kind === 'refused') {
    decision.event('WorkflowStepRejected', { ...base, reason: outcome.reason });
    // Past the pivot, nothing is undone: the workflow fails, for an operator to retry.
    if (pastPivot(decision, index)) return fail(decision, step.name, outcome.reason);
    return startCompensation(decision, outcome.reason, '', false);
  }
  decision.event('WorkflowStepSucceeded', { ...base, replyType });
  decision.set({
    completed: [...state.completed, step.name],
    results: { ...state.results, [step.name]: plain(outcome.result ?? null) },
  });
  const steps = decision.definition.steps;
  let next = index + 1;
  if (outcome.next === '$complete') next = steps.length;
  else if (outcome.next !== undefined) {
    next = steps.findIndex((s) => s.name === outcome.next);
    if (next <= index) {
      const reason = `step '${step.name}' chose '${outcome.next}', which is not a later step`;
      if (sentPivot(decision.definition, decision.state) !== undefined) {
        return fail(decision, step.name, reason);
      }
      return startCompensation(decision, reason, '', false);
    }
  }
  enter(decision, next);
}

function onFire(decision: Decision, { timerId, view }: WorkflowCommands['Fire']): void {
  const { state } = decision;
  if (state.deadline?.id === timerId) {
    // Past its pivot a workflow only goes forward: its deadline changes nothing then.
    if (state.status !== 'running' || sentPivot(decision.definition, state) !== undefined) return;
    return startCompensation(
      decision,
      `the workflow's deadline passed (${state.deadline.dueAt})`,
      '',
      true,
    );
  }
  const current = state.current;
  if (state.timer?.id !== timerId || current === undefined) return;
  const { step, index } = stepOf(decision, current.step);
  const policy = { ...defaultRetryPolicy, ...step.retry };
  switch (state.timer.kind) {
    case 'signal': {
      const context = contextOf(decision, step, current.attempt);
      const outcome =
        typeof step.onTimeout === 'function'
          ? step.onTimeout(context)
          : (step.onTimeout ?? {
              kind: 'refused' as const,
              reason: `no signal '${step.signal ?? ''}' within ${step.timeoutMs ?? 0} ms`,
            });
      return decideStep(
        decision,
        step,
        index,
        { step: step.name, phase: current.phase, attempt: current.attempt },
        outcome,
        'timeout',
      );
    }
    case 'sleep':
      decision.event('WorkflowStepSucceeded', {
        step: step.name,
        phase: current.phase,
        attempt: current.attempt,
        replyType: 'woke',
      });
      decision.set({
        completed: [...state.completed, step.name],
        results: { ...state.results, [step.name]: null },
      });
      return enter(decision, index + 1);
    case 'read':
      decision.set({ views: { ...state.views, [step.name]: { value: plain(view) ?? null } } });
      return send(decision, step, index, 'forward', current.attempt);
    case 'retry':
      return send(decision, step, index, current.phase, current.attempt + 1);
    case 'timeout': {
      const exhausted = current.attempt >= policy.maxAttempts;
      decision.event('WorkflowStepTimedOut', {
        step: step.name,
        phase: current.phase,
        attempt: current.attempt,
        exhausted,
      });
      if (!exhausted) {
        const delay = retryDelay(policy, current.attempt);
        if (delay === 0) return send(decision, step, index, current.phase, current.attempt + 1);
        return decision.set({ timer: decision.timer('retry', delay) });
      }
      const reason = `step '${step.name}' had no reply after ${current.attempt} attempt(s)`;
      // A compensation, or a step at or past the pivot, whose effect is unknown: not undone.
      if (current.phase === 'compensation' || sentPivot(decision.definition, state) !== undefined) {
        return fail(decision, step.name, reason);
      }
      return startCompensation(decision, reason, '', true);
    }
  }
}

/**
 * The entity that holds workflow instances: its commands start a workflow, apply a reply, fire a
 * timer, and take an operator's retry or cancel; each decision is one commit holding the new
 * state, the workflow's events and the commands to send.
 */
export function workflowEntity(
  entityType: string,
  definitionOf: (type: string, version: number) => AnyWorkflowDefinition,
  /** Checks a signal's payload against its declared schema; throws saying why not. */
  checkSignal?: (schema: string, payload: unknown) => void,
): EntityDefinition<WorkflowState, WorkflowCommands, WorkflowEvents> {
  const initial = (): WorkflowState => ({
    status: 'new',
    type: '',
    version: 0,
    key: '',
    input: null,
    results: {},
    views: {},
    completed: [],
    toCompensate: [],
  });
  const decide =
    <K extends keyof WorkflowCommands>(
      handle: (decision: Decision, command: WorkflowCommands[K]) => void,
      refuseWhen?: (state: WorkflowState) => string | undefined,
    ) =>
    (state: WorkflowState, command: WorkflowCommands[K], context: CommandContext) => {
      if (state.status === 'new') return reject(`workflow ${context.entityId} does not exist`);
      const refusal = refuseWhen?.(state);
      if (refusal !== undefined) return reject(refusal);
      const decision = new Decision(state, definitionOf(state.type, state.version), context);
      handle(decision, command);
      return decision.entries.length === 0 ? [] : withState(decision, state);
    };
  const withState = (decision: Decision, before: WorkflowState) => {
    const { supersededTimer: _s, ...after } = decision.state;
    const replaced = before.timer !== undefined && before.timer.id !== after.timer?.id;
    return new StateChange(
      replaced ? { ...after, supersededTimer: before.timer } : after,
      decision.entries,
    );
  };
  return defineEntity<WorkflowState, WorkflowCommands, WorkflowEvents>({
    type: entityType,
    initialState: initial,
    commands: {
      Start: (state, start, context) => {
        if (state.status !== 'new') return [];
        const definition = definitionOf(start.type, start.version);
        const decision = new Decision(
          {
            ...initial(),
            status: 'running',
            type: start.type,
            version: start.version,
            key: start.key,
            input: plain(start.input) ?? null,
            ...(start.businessKey === undefined ? {} : { businessKey: start.businessKey }),
            startedAt: context.now,
          },
          definition,
          context,
        );
        if (definition.deadlineMs !== undefined) {
          const ms =
            typeof definition.deadlineMs === 'function'
              ? checkSleepMs('deadlineMs', definition.deadlineMs(decision.state.input))
              : definition.deadlineMs;
          decision.set({
            deadline: {
              id: `${context.entityId}@${context.version + 1}!deadline`,
              dueAt: new Date(Date.parse(context.now) + ms).toISOString(),
            },
          });
        }
        decision.event('WorkflowStarted', {
          workflowType: start.type,
          version: start.version,
          key: start.key,
          businessKey: start.businessKey ?? '',
          steps: definition.steps.map((s) => s.name).join(','),
        });
        enter(decision, 0);
        return withState(decision, state);
      },
      Reply: decide<'Reply'>(onReply),
      Fire: decide<'Fire'>(onFire),
      Signal: (state, { name, payload, key = '' }, context) => {
        if (state.status === 'new') return reject(`workflow ${context.entityId} does not exist`);
        // A signal sent again with its key: the answer is the first one's (nothing changes).
        if (key !== '' && state.signalKeys?.includes(key) === true) return [];
        if (state.status !== 'running') {
          return reject(`workflow is ${state.status}: it takes no more signals`);
        }
        const definition = definitionOf(state.type, state.version);
        const declared = definition.signals ?? {};
        if (!Object.hasOwn(declared, name)) {
          const names = Object.keys(declared);
          return reject(
            `${state.type} v${state.version} takes no signal '${name}' (signals: ${names.length === 0 ? 'none' : names.join(', ')})`,
          );
        }
        let value: unknown;
        try {
          value = JSON.parse(payload) as unknown;
        } catch {
          return reject(`the payload of signal '${name}' is not JSON`);
        }
        const schema = declared[name];
        if (schema !== null && schema !== undefined && checkSignal !== undefined) {
          try {
            checkSignal(schema, value);
          } catch (error) {
            return reject(
              `the payload of signal '${name}' does not fit ${schema}: ${failure(error)}`,
            );
          }
        }
        if ((state.signals?.[name]?.length ?? 0) >= SIGNALS_KEPT_MAX) {
          return reject(
            `workflow keeps ${SIGNALS_KEPT_MAX} signals '${name}' already, none taken yet`,
          );
        }
        const decision = new Decision(state, definition, context);
        onSignal(decision, name, plain(value) ?? null);
        if (key !== '') {
          decision.set({
            signalKeys: [...(decision.state.signalKeys ?? []), key].slice(-SIGNAL_KEYS_KEPT),
          });
        }
        // A signal kept for later is a change of state alone (nothing to publish).
        return withState(decision, state);
      },
      Retry: decide<'Retry'>(
        (decision, { requestedBy, reason }) => {
          const current = decision.state.current!;
          const { step, index } = stepOf(decision, current.step);
          decision.event('WorkflowRetryRequested', { step: step.name, requestedBy, reason });
          // A step past the pivot failed forward; any other failure is a compensation's.
          decision.set({ status: current.phase === 'forward' ? 'running' : 'compensating' });
          const { endedAt: _e, error: _f, ...rest } = decision.state;
          decision.state = rest;
          send(decision, step, index, current.phase, current.attempt + 1);
        },
        (state) =>
          state.status === 'failed' && state.current !== undefined
            ? undefined
            : `workflow is ${state.status}: only a failed workflow can be retried`,
      ),
      Cancel: decide<'Cancel'>(
        (decision, { requestedBy, reason }) =>
          startCompensation(decision, reason, requestedBy, true),
        (state) => {
          if (state.status !== 'running') {
            return `workflow is ${state.status}: only a running workflow can be cancelled`;
          }
          const pivot = sentPivot(definitionOf(state.type, state.version), state);
          return pivot === undefined
            ? undefined
            : `workflow passed its pivot step '${pivot}', which cannot be undone: it only goes forward now`;
        },
      ),
    },
    // Every decision sets the state itself (a StateChange): nothing to derive from events.
    evolve: (state) => state,
  });
}
