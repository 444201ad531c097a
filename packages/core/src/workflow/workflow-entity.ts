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
 * The timer a workflow waits on: a view to read, a reply's deadline, a retry's delay, the end
 * of a sleep step, a signal wait's timeout, or the first due time of a parallel step's branches.
 */
export interface WorkflowTimerState {
  readonly id: string;
  readonly kind: 'read' | 'timeout' | 'retry' | 'sleep' | 'signal' | 'parallel';
  readonly dueAt: string;
}

/** How far a branch of the parallel step under way got. */
export interface BranchState {
  readonly attempt: number;
  /**
   * `reply`: its command awaits a reply until `dueAt`; `retry`: its next attempt is sent at
   * `dueAt`; `unknown`: no reply after its attempts (its effect is unknown, so it is compensated).
   */
  readonly status: 'reply' | 'retry' | 'done' | 'refused' | 'unknown';
  readonly dueAt?: string;
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
  /** The branches of the parallel step under way (the current step), by name. */
  readonly branches?: Readonly<Record<string, BranchState>>;
  /** Why the parallel step under way is refused: it compensates once its branches settle. */
  readonly branchRefusal?: string;
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
    /** The reply event types awaited, comma-separated; '' when any reply counts. */
    awaits: string;
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
    return this.timerAt(kind, new Date(Date.parse(this.context.now) + delayMs).toISOString());
  }
  timerAt(kind: WorkflowTimerState['kind'], dueAt: string): WorkflowTimerState {
    return { id: `${this.workflowId}@${this.context.version + 1}`, kind, dueAt };
  }
}

const plain = (value: unknown): unknown =>
  value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);

const reasonOf = (payload: Readonly<Record<string, unknown>>, otherwise: string) =>
  typeof payload['reason'] === 'string' ? payload['reason'] : otherwise;

const failure = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A step found by name: a step of the workflow, or a branch of one of its parallel steps. */
interface StepRef {
  readonly step: WorkflowStep;
  /** The index of the step, or of the parallel step the branch is of. */
  readonly index: number;
  /** The branch's index in its parallel step. */
  readonly branch?: number;
}

function stepOf(decision: Decision, name: string): StepRef {
  for (const [index, step] of decision.definition.steps.entries()) {
    if (step.name === name) return { step, index };
    const branch = step.parallel?.findIndex((b) => b.name === name) ?? -1;
    if (branch >= 0) return { step: step.parallel![branch]!, index, branch };
  }
  throw new SagaflowError(
    'INVALID_DEFINITION',
    `${decision.definition.type} v${versionOf(decision.definition)} has no step '${name}'`,
  );
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
    awaits: '',
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
    awaits: '',
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
  { step, index, branch }: StepRef,
  phase: WorkflowPosition['phase'],
  attempt: number,
): void {
  if (isSleepStep(step)) return sleep(decision, step, index);
  if (step.signal !== undefined) return awaitSignal(decision, step, index);
  if (step.parallel !== undefined) return startBranches(decision, step, index);
  let command: WorkflowCommand;
  try {
    command = commandOf(decision, step, phase, attempt);
  } catch (error) {
    // Workflow code that throws refuses its step (forward) or fails the workflow (compensation).
    const reason = `the ${phase === 'forward' ? 'command' : 'compensation'} of step '${step.name}' threw: ${failure(error)}`;
    decision.event('WorkflowStepRejected', { step: step.name, phase, attempt, reason });
    if (phase === 'forward' && !pastPivot(decision, index)) {
      return startCompensation(decision, reason, '', false);
    }
    return fail(decision, step.name, reason);
  }
  const { commandId, deadlineAt } = emit(decision, step, index, phase, attempt, command, branch);
  decision.set({
    current: { phase, step: step.name, attempt, commandId, deadlineAt },
    timer: decision.timerAt('timeout', deadlineAt),
  });
}

/** A step's command (or its compensation) for an attempt, as its code makes it (it may throw). */
function commandOf(
  decision: Decision,
  step: WorkflowStep,
  phase: WorkflowPosition['phase'],
  attempt: number,
): WorkflowCommand {
  const context = contextOf(decision, step, attempt);
  return phase === 'forward'
    ? step.command!(context)
    : step.compensate!({ ...context, result: decision.state.results[step.name] });
}

/** Puts a step's command in the outbox and says so: its id and the deadline of its reply. */
function emit(
  decision: Decision,
  step: WorkflowStep,
  index: number,
  phase: WorkflowPosition['phase'],
  attempt: number,
  command: WorkflowCommand,
  branch: number | undefined,
): { commandId: string; deadlineAt: string } {
  const commandId = workflowCommandId(decision.workflowId, phase, index, attempt, branch);
  const deadlineAt = new Date(
    Date.parse(decision.context.now) + (step.timeoutMs ?? 30_000),
  ).toISOString();
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
    deadlineAt,
    awaits: phase === 'forward' ? awaitedReplies(step) : '',
  });
  return { commandId, deadlineAt };
}

/** Each step's {@link awaitedReplies}, worked out once per definition's step, not per command. */
const awaitedByStep = new WeakMap<WorkflowStep, string>();

/**
 * The reply event types a step's command waits for, as {@link outcomeOf} reads them, comma
 * separated: those its `replies` lists, then the entity's `CommandAccepted` and
 * `CommandRejected`; none (any reply counts) when it lists none.
 */
function awaitedReplies(step: WorkflowStep): string {
  let awaited = awaitedByStep.get(step);
  if (awaited === undefined) {
    awaited =
      step.replies === undefined
        ? ''
        : [...new Set([...Object.keys(step.replies), COMMAND_ACCEPTED, COMMAND_REJECTED])].join(
            ',',
          );
    awaitedByStep.set(step, awaited);
  }
  return awaited;
}

/**
 * Starts a parallel step: the command of each branch not done yet (all of them, unless an
 * operator retries the step), each awaiting its own reply.
 */
function startBranches(decision: Decision, group: WorkflowStep, index: number): void {
  const { branchRefusal: _r, ...rest } = decision.state;
  decision.state = { ...rest, current: { phase: 'forward', step: group.name, attempt: 1 } };
  for (const [b, branch] of group.parallel!.entries()) {
    const was = decision.state.branches?.[branch.name];
    if (was?.status !== 'done') sendBranch(decision, group, index, b, (was?.attempt ?? 0) + 1);
  }
  settle(decision, group, index);
}

/** Sends an attempt of a branch's command; a branch whose code throws is refused. */
function sendBranch(
  decision: Decision,
  group: WorkflowStep,
  index: number,
  b: number,
  attempt: number,
): void {
  const branch = group.parallel![b]!;
  let command: WorkflowCommand;
  try {
    command = commandOf(decision, branch, 'forward', attempt);
  } catch (error) {
    const reason = `the command of step '${branch.name}' threw: ${failure(error)}`;
    decision.event('WorkflowStepRejected', {
      step: branch.name,
      phase: 'forward',
      attempt,
      reason,
    });
    return setBranch(decision, branch.name, { attempt, status: 'refused' }, reason);
  }
  const { deadlineAt } = emit(decision, branch, index, 'forward', attempt, command, b);
  setBranch(decision, branch.name, { attempt, status: 'reply', dueAt: deadlineAt });
}

/**
 * Records how far a branch got; with a refusal, the parallel step is refused (the first reason
 * is kept) and no branch is tried again: one waiting to be is taken as having no reply.
 */
function setBranch(decision: Decision, name: string, branch: BranchState, refusal?: string): void {
  const branches = { ...decision.state.branches, [name]: branch };
  if (refusal === undefined) return decision.set({ branches });
  for (const [other, state] of Object.entries(branches)) {
    if (state.status !== 'retry') continue;
    decision.event('WorkflowStepTimedOut', {
      step: other,
      phase: 'forward',
      attempt: state.attempt,
      exhausted: true,
    });
    branches[other] = { attempt: state.attempt, status: 'unknown' };
  }
  decision.set({ branches, branchRefusal: decision.state.branchRefusal ?? refusal });
}

/**
 * Joins a parallel step once no branch awaits a reply or a retry: all done, it goes on to the
 * next step (its result: the branches' results by name); refused, it compensates what was done
 * (or fails past the pivot). Until then its timer is the first due time of its branches.
 */
function settle(decision: Decision, group: WorkflowStep, index: number): void {
  const { state } = decision;
  const branches = state.branches ?? {};
  const due = Object.values(branches)
    .filter((b) => b.status === 'reply' || b.status === 'retry')
    .map((b) => b.dueAt!)
    .sort()[0];
  if (due !== undefined) {
    // The same due time keeps the timer already stored (no new one to write).
    const same = state.timer?.kind === 'parallel' && state.timer.dueAt === due;
    return decision.set({ timer: same ? state.timer : decision.timerAt('parallel', due) });
  }
  const refusal = state.branchRefusal;
  if (refusal === undefined) {
    const { branches: _b, timer: _t, ...rest } = state;
    const names = group.parallel!.map((b) => b.name);
    decision.state = {
      ...rest,
      completed: [...state.completed, group.name],
      results: {
        ...state.results,
        [group.name]: Object.fromEntries(names.map((n) => [n, state.results[n] ?? null])),
      },
    };
    return enter(decision, index + 1);
  }
  // Past the pivot nothing is undone: the workflow fails, for an operator to retry the branches
  // not done.
  if (pastPivot(decision, index)) return fail(decision, group.name, refusal);
  const unknown = Object.entries(branches).flatMap(([name, b]) =>
    b.status === 'unknown' ? [name] : [],
  );
  startCompensation(decision, refusal, '', false, unknown);
}

/** A reply to a branch of the parallel step under way decides that branch. */
function onBranchReply(
  decision: Decision,
  parsed: { stepIndex: number; branch: number; attempt: number },
  reply: WorkflowCommands['Reply'],
): void {
  const group = decision.definition.steps[parsed.stepIndex];
  const branch = group?.parallel?.[parsed.branch];
  if (group === undefined || branch === undefined) return;
  if (decision.state.current?.step !== group.name) return;
  const was = decision.state.branches?.[branch.name];
  // Any attempt counts while the branch waits: a late reply to an earlier attempt is its answer.
  if (was === undefined || (was.status !== 'reply' && was.status !== 'retry')) return;
  if (parsed.attempt > was.attempt) return;
  const base = { step: branch.name, phase: 'forward' as const, attempt: parsed.attempt };
  let outcome = outcomeOf(branch, reply, contextOf(decision, branch, parsed.attempt));
  if (outcome === undefined) return;
  if (outcome.kind === 'done' && outcome.next !== undefined) {
    outcome = {
      kind: 'refused',
      reason: `branch '${branch.name}' chose '${outcome.next}': a branch cannot choose the next step`,
    };
  }
  if (outcome.kind === 'refused') {
    decision.event('WorkflowStepRejected', { ...base, reason: outcome.reason });
    setBranch(decision, branch.name, { attempt: was.attempt, status: 'refused' }, outcome.reason);
  } else {
    decision.event('WorkflowStepSucceeded', { ...base, replyType: reply.eventType });
    const { state } = decision;
    decision.set({
      completed: [...state.completed, branch.name],
      results: { ...state.results, [branch.name]: plain(outcome.result ?? null) },
    });
    setBranch(decision, branch.name, { attempt: was.attempt, status: 'done' });
  }
  settle(decision, group, parsed.stepIndex);
}

/**
 * The timer of a parallel step: each branch due by then (its reply's deadline passed, or its
 * retry's delay) times out or is tried again; then the step settles.
 */
function fireBranches(decision: Decision, group: WorkflowStep, index: number): void {
  // The timer is due, whatever this process's clock says: its branches due at its time are too.
  const fired = decision.state.timer!.dueAt;
  const now = decision.context.now > fired ? decision.context.now : fired;
  for (const [b, branch] of group.parallel!.entries()) {
    const was = decision.state.branches?.[branch.name];
    if (was?.dueAt === undefined || was.dueAt > now) continue;
    if (was.status === 'retry') {
      sendBranch(decision, group, index, b, was.attempt + 1);
      continue;
    }
    if (was.status !== 'reply') continue;
    const policy = { ...defaultRetryPolicy, ...branch.retry };
    const exhausted =
      was.attempt >= policy.maxAttempts || decision.state.branchRefusal !== undefined;
    decision.event('WorkflowStepTimedOut', {
      step: branch.name,
      phase: 'forward',
      attempt: was.attempt,
      exhausted,
    });
    if (exhausted) {
      const reason = `step '${branch.name}' had no reply after ${was.attempt} attempt(s)`;
      setBranch(decision, branch.name, { attempt: was.attempt, status: 'unknown' }, reason);
      continue;
    }
    const delay = retryDelay(policy, was.attempt);
    if (delay === 0) sendBranch(decision, group, index, b, was.attempt + 1);
    else {
      const dueAt = new Date(Date.parse(now) + delay).toISOString();
      setBranch(decision, branch.name, { attempt: was.attempt, status: 'retry', dueAt });
    }
  }
  settle(decision, group, index);
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
  send(decision, { step, index }, 'forward', 1);
}

/**
 * Compensates the steps done, last first; with `includeCurrent`, also the step (or the branches)
 * whose command was sent without a reply yet, and `unknown` steps, whose effect is unknown.
 */
function startCompensation(
  decision: Decision,
  reason: string,
  requestedBy: string,
  includeCurrent: boolean,
  unknown: readonly string[] = [],
): void {
  const { branches = {}, branchRefusal: _r, ...state } = decision.state;
  const names = [...state.completed];
  if (includeCurrent && state.current?.commandId !== undefined) names.push(state.current.step);
  if (includeCurrent) {
    for (const [name, branch] of Object.entries(branches)) {
      if (branch.status === 'reply' || branch.status === 'retry' || branch.status === 'unknown') {
        names.push(name);
      }
    }
  }
  names.push(...unknown);
  const toCompensate = names
    .reverse()
    .filter((name) => stepOf(decision, name).step.compensate !== undefined);
  decision.event('WorkflowCompensationStarted', { reason, requestedBy });
  decision.state = { ...state, status: 'compensating', reason, toCompensate };
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
  send(decision, stepOf(decision, next), 'compensation', 1);
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
  if (parsed?.branch !== undefined && parsed.phase === 'forward' && current?.phase === 'forward') {
    return onBranchReply(decision, { ...parsed, branch: parsed.branch }, reply);
  }
  if (current?.commandId === undefined || parsed === undefined) return;
  const { step, index, branch } = stepOf(decision, current.step);
  // Any attempt of the current step counts: a late reply to an earlier attempt is its answer.
  if (
    parsed.stepIndex !== index ||
    parsed.branch !== branch ||
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
  const ref = stepOf(decision, current.step);
  const { step, index } = ref;
  const policy = { ...defaultRetryPolicy, ...step.retry };
  switch (state.timer.kind) {
    case 'parallel':
      return fireBranches(decision, step, index);
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
      return send(decision, ref, 'forward', current.attempt);
    case 'retry':
      return send(decision, ref, current.phase, current.attempt + 1);
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
        if (delay === 0) return send(decision, ref, current.phase, current.attempt + 1);
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
          // A parallel step's branches as `<step>/<branch>`.
          steps: definition.steps
            .flatMap((s) => s.parallel?.map((b) => `${s.name}/${b.name}`) ?? [s.name])
            .join(','),
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
          const ref = stepOf(decision, current.step);
          decision.event('WorkflowRetryRequested', { step: ref.step.name, requestedBy, reason });
          // A step past the pivot failed forward; any other failure is a compensation's.
          decision.set({ status: current.phase === 'forward' ? 'running' : 'compensating' });
          const { endedAt: _e, error: _f, ...rest } = decision.state;
          decision.state = rest;
          // A parallel step sends again the branches not done.
          send(decision, ref, current.phase, current.attempt + 1);
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
