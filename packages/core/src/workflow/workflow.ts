import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import type { ViewReader } from '../view/view-runtime.js';

/** A command a workflow step sends to an entity of its step's entity type. */
export interface WorkflowCommand {
  readonly entityId: string;
  /** The command's schema type, e.g. `ReserveStock`. */
  readonly type: string;
  readonly payload: object;
}

/** What the step functions of a workflow see. */
export interface StepContext<I> {
  readonly workflowId: string;
  readonly input: I;
  /** Results of the steps done so far, by step name. */
  readonly results: Readonly<Record<string, unknown>>;
  /** What this step's `read` returned (undefined for a step without one). */
  readonly view: unknown;
  /** 1 for the first attempt, then 2, 3, … after timeouts. */
  readonly attempt: number;
}

/** A reply event, as a step's reply handler sees it. */
export interface WorkflowReply {
  readonly type: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly entityType: string;
  readonly entityId: string;
  readonly eventId: string;
}

/** What a reply means for its step. */
export type StepOutcome =
  | {
      readonly kind: 'done';
      readonly result?: unknown;
      /** The step to run next (later in the list), or {@link COMPLETE}. @default the next one */
      readonly next?: string;
    }
  | { readonly kind: 'refused'; readonly reason: string };

/** `next` of an outcome that ends the workflow successfully at once. */
export const COMPLETE = '$complete';

/** The step is done; its result (the reply's payload by default) is kept for later steps. */
export const done = (result?: unknown): StepOutcome =>
  result === undefined ? { kind: 'done' } : { kind: 'done', result };
/** The step is done; the workflow goes on at the named (later) step. */
export const goTo = (step: string, result?: unknown): StepOutcome => ({
  kind: 'done',
  next: step,
  ...(result === undefined ? {} : { result }),
});
/** The step is done and so is the workflow: the steps after it are skipped. */
export const complete = (result?: unknown): StepOutcome => goTo(COMPLETE, result);
/** The step was refused: the workflow compensates the steps done so far, last first. */
export const refuse = (reason: string): StepOutcome => ({ kind: 'refused', reason });

/** How often a step is tried, and how long to wait between tries. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. @default 3 */
  readonly maxAttempts: number;
  /** Delay before the second attempt. @default 1000 */
  readonly delayMs: number;
  /** Growth of the delay per attempt. @default 2 */
  readonly multiplier: number;
  /** Upper bound of one delay. @default 60000 */
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  delayMs: 1000,
  multiplier: 2,
  maxDelayMs: 60_000,
};

/**
 * The views of the orchestrator's service, by name (see `OrchestratorOptions.views`): a step's
 * `read` reads them locally, e.g. `views['customer-credit'].get(input.customerId)`. A name that is
 * not a view there throws naming it.
 */
export type StepViews = Readonly<Record<string, ViewReader<never>>>;

/** What a sleep step's duration or wake-up time is computed from. */
export type SleepContext<I> = Omit<StepContext<I>, 'view' | 'attempt'>;

/** The longest sleep: a hundred years. */
export const SLEEP_MAX_MS = 100 * 365 * 24 * 3600 * 1000;

/**
 * One step of a workflow: optionally read a view, then command an entity and await its reply; or,
 * with `sleep` or `sleepUntil` instead of a command, wait (durably: the wake-up is a stored timer,
 * kept across restarts).
 */
export interface WorkflowStep<I = unknown> {
  /** Unique in the workflow, e.g. `reserve-stock`. */
  readonly name: string;
  /**
   * The entity type the step commands, e.g. `inventory.stock`; its events carry the reply. A
   * sleep step has none.
   */
  readonly entity?: string;
  /**
   * Reads before the command: the orchestrator's own views (`views`, read locally, no call to
   * another service), or anything else. The result is stored with the workflow and given to
   * `command` as `view`, so a restarted orchestrator does not read it again. A read that fails
   * (a view behind the event waited for, say) is tried again later, backing off. @default none
   */
  readonly read?: (context: Omit<StepContext<I>, 'view' | 'attempt'>, views: StepViews) => unknown;
  /**
   * The command to send. Must be deterministic: the same context gives the same command. A sleep
   * step has none.
   */
  readonly command?: (context: StepContext<I>) => WorkflowCommand;
  /**
   * Makes the step a sleep: the workflow waits this many milliseconds (0 to a hundred years), or
   * what the function gives for its context, then goes on to the next step. @default not a sleep
   */
  readonly sleep?: number | ((context: SleepContext<I>) => number);
  /**
   * Makes the step a sleep until a time (a `Date` or an ISO-8601 string; a past time wakes it at
   * once). @default not a sleep
   */
  readonly sleepUntil?: (context: SleepContext<I>) => Date | string;
  /**
   * Makes the step wait for a signal the workflow declares (see `WorkflowDefinition.signals`),
   * sent by `Orchestrator.signal`, `POST /workflows/:id/signals/:name` or a `SignalWorkflow`
   * command. A signal sent before the step waits is kept and taken when it does. With
   * `timeoutMs`, the step gives up after that long (see `onTimeout`). @default not a wait
   */
  readonly signal?: string;
  /**
   * What a signal means for the step. @default done, with the signal's payload as the result
   */
  readonly onSignal?: (payload: unknown, context: StepContext<I>) => StepOutcome;
  /**
   * What a signal step's timeout means. @default refused: `no signal '<name>' within <timeoutMs> ms`
   */
  readonly onTimeout?: StepOutcome | ((context: StepContext<I>) => StepOutcome);
  /**
   * What each reply event type means: an outcome, or a function deciding one. `CommandRejected`
   * refuses the step and `CommandAccepted` completes it unless listed; when `replies` is given,
   * other event types caused by the command are ignored.
   * @default every reply completes the step, with its payload as the result
   */
  readonly replies?: Readonly<
    Record<string, StepOutcome | ((reply: WorkflowReply, context: StepContext<I>) => StepOutcome)>
  >;
  /**
   * The command that undoes the step, sent to the same entity type when a later step is refused
   * or times out, or an operator cancels the workflow. Also sent for a step that timed out for
   * good, whose effect is unknown: a compensation must accept that there is nothing to undo.
   * @default none: the step needs no undoing
   */
  readonly compensate?: (context: StepContext<I> & { readonly result: unknown }) => WorkflowCommand;
  /** Time to wait for the reply to one attempt. @default 30000 */
  readonly timeoutMs?: number;
  /** Attempts after timeouts (each with a new command id). @default {@link defaultRetryPolicy} */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * Makes the step a group of branches started together and joined when all are done: each
   * branch is a step that commands an entity (no read, sleep, signal or pivot), with its own
   * replies, timeout, retries and compensation; their results are kept by branch name. If one
   * refuses (or has no reply after its attempts), the group waits for the others' replies, then
   * compensates the branches done (and one without a reply, whose effect is unknown) and the
   * steps before, last first. The group takes no command of its own. @default not a group
   */
  readonly parallel?: readonly WorkflowStep<I>[];
  /**
   * The workflow's point of no return (e.g. approving the order): a step that cannot be undone,
   * after which the workflow only goes forward. Refused, it compensates the steps before it, as
   * any step does. Once its command is sent, an operator's cancel is refused (it may take effect
   * whatever the workflow does next), and a pivot without a reply after its attempts, or a later
   * step refused or without a reply, fails the workflow (an operator retries it) instead of
   * compensating. One step at most; it takes no `compensate`. @default false
   */
  readonly pivot?: boolean;
}

/** A workflow: its steps, run in order, each one commanding an entity. */
export interface WorkflowDefinition<I = unknown> {
  /** e.g. `order-placement`: lower-case words joined by '-'. */
  readonly type: string;
  /**
   * The definition's version. A workflow runs to its end on the version it started with, so a
   * new version must be deployed next to the old one while old workflows run. @default 1
   */
  readonly version?: number;
  /**
   * The Avro record that a start's input must fit: a type of the orchestrator's schema catalog
   * (e.g. `OrderFulfillmentInput`, from its `.avsc`). Checked before `input`; a misfit is refused
   * with `INVALID_ARGUMENT` naming the field (`input.items.0.quantity`). Needs a serde that checks
   * payloads (`check`: the Avro and in-memory serdes do). @default none
   */
  readonly inputSchema?: string;
  /**
   * Checks and shapes the input of a start (after `inputSchema`): what a schema cannot say, such
   * as ranges; throw (naming the field) to refuse it. @default as is
   */
  readonly input?: (raw: unknown) => I;
  /** The business key shown and searched in the admin, e.g. the order id. @default none */
  readonly businessKey?: (input: I) => string;
  /**
   * The signals the workflow takes, by name (lower-case words joined by '-'), each with the
   * Avro record its payload must fit (a type of the orchestrator's catalog), or null for any JSON
   * value. @default none
   */
  readonly signals?: Readonly<Record<string, string | null>>;
  /**
   * A deadline for the whole workflow, in milliseconds from its start (or a function of the
   * input giving them): a workflow still running then compensates, as an operator's cancel
   * would (unless its pivot was sent: it then only goes forward). @default none
   */
  readonly deadlineMs?: number | ((input: I) => number);
  readonly steps: readonly WorkflowStep<I>[];
}

/** A workflow definition of any input type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyWorkflowDefinition = WorkflowDefinition<any>;

const TYPE = /^[a-z][a-z0-9-]*$/;
const ENTITY_TYPE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/** Checks and returns a workflow definition; a bad one throws naming the field. */
export function defineWorkflow<I>(definition: WorkflowDefinition<I>): WorkflowDefinition<I> {
  if (typeof definition.type !== 'string' || !TYPE.test(definition.type)) {
    throw invalidArgument(
      'type',
      `must be lower-case words joined by '-' (got '${String(definition.type)}')`,
    );
  }
  const version = definition.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw invalidArgument('version', `must be a positive integer (got ${String(version)})`);
  }
  if ((definition.steps as unknown) === undefined || definition.steps.length === 0) {
    throw invalidArgument('steps', 'must list at least one step');
  }
  if (definition.deadlineMs !== undefined && typeof definition.deadlineMs !== 'function') {
    checkSleepMs('deadlineMs', definition.deadlineMs);
  }
  for (const [name, schema] of Object.entries(definition.signals ?? {})) {
    if (!TYPE.test(name)) {
      throw invalidArgument(`signals.${name}`, "must be named with lower-case words joined by '-'");
    }
    if (schema !== null && (typeof schema !== 'string' || schema === '')) {
      throw invalidArgument(`signals.${name}`, 'must be an Avro record name, or null for any JSON');
    }
  }
  const names = new Set<string>();
  const named = (step: WorkflowStep<I>, field: string) => {
    if (typeof step.name !== 'string' || !TYPE.test(step.name)) {
      throw invalidArgument(
        `${field}.name`,
        `must be lower-case words joined by '-' (got '${String(step.name)}')`,
      );
    }
    if (names.has(step.name)) throw invalidArgument(`${field}.name`, `repeats '${step.name}'`);
    names.add(step.name);
  };
  for (const [i, step] of definition.steps.entries()) {
    const field = `steps[${i}]`;
    named(step, field);
    if (step.parallel !== undefined) {
      checkParallelStep(step, field);
      for (const [j, branch] of step.parallel.entries()) {
        const at = `${field}.parallel[${j}]`;
        named(branch, at);
        for (const other of [
          'parallel',
          'sleep',
          'sleepUntil',
          'signal',
          'read',
          'pivot',
        ] as const) {
          if (branch[other] !== undefined) {
            throw invalidArgument(
              `${at}.${other}`,
              'has no place in a branch: a branch commands an entity and awaits its reply',
            );
          }
        }
        checkCommandStep(branch, at);
      }
      continue;
    }
    if (isSleepStep(step)) {
      checkSleepStep(step, field);
      continue;
    }
    if (step.signal !== undefined) {
      checkSignalStep(step, field, definition.signals ?? {});
      continue;
    }
    checkCommandStep(step, field);
    if (step.pivot === true) {
      const other = definition.steps.findIndex((s, j) => j < i && s.pivot === true);
      if (other >= 0) {
        throw invalidArgument(
          `${field}.pivot`,
          `repeats the pivot of steps[${other}]: a workflow has one at most`,
        );
      }
    }
  }
  return { ...definition, version };
}

/** A step that commands an entity: its entity type, command, functions, timeout and retries. */
function checkCommandStep(step: WorkflowStep<never>, field: string): void {
  if (typeof step.entity !== 'string' || !ENTITY_TYPE.test(step.entity)) {
    throw invalidArgument(
      `${field}.entity`,
      `must be an entity type like 'inventory.stock' (got '${String(step.entity)}')`,
    );
  }
  if (typeof step.command !== 'function') {
    throw invalidArgument(
      `${field}.command`,
      'must be a function (context) => command (or give the step sleep or sleepUntil)',
    );
  }
  for (const fn of ['read', 'compensate'] as const) {
    if (step[fn] !== undefined && typeof step[fn] !== 'function') {
      throw invalidArgument(`${field}.${fn}`, 'must be a function');
    }
  }
  if (step.pivot !== undefined && typeof step.pivot !== 'boolean') {
    throw invalidArgument(`${field}.pivot`, 'must be true or false');
  }
  if (step.pivot === true && step.compensate !== undefined) {
    throw invalidArgument(
      `${field}.pivot`,
      'marks a step that cannot be undone: it takes no compensate',
    );
  }
  if (step.timeoutMs !== undefined && (!Number.isFinite(step.timeoutMs) || step.timeoutMs <= 0)) {
    throw invalidArgument(
      `${field}.timeoutMs`,
      `must be a positive number (got ${step.timeoutMs})`,
    );
  }
  const retry = { ...defaultRetryPolicy, ...step.retry };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw invalidArgument(
      `${field}.retry.maxAttempts`,
      `must be a positive integer (got ${retry.maxAttempts})`,
    );
  }
  for (const key of ['delayMs', 'maxDelayMs'] as const) {
    if (!Number.isFinite(retry[key]) || retry[key] < 0) {
      throw invalidArgument(`${field}.retry.${key}`, `must be a number ≥ 0 (got ${retry[key]})`);
    }
  }
  if (!Number.isFinite(retry.multiplier) || retry.multiplier < 1) {
    throw invalidArgument(
      `${field}.retry.multiplier`,
      `must be a number ≥ 1 (got ${retry.multiplier})`,
    );
  }
}

/** A group lists two branches or more, and nothing of a step of another kind. */
function checkParallelStep(step: WorkflowStep<never>, field: string): void {
  if (!Array.isArray(step.parallel) || step.parallel.length < 2) {
    throw invalidArgument(
      `${field}.parallel`,
      'must list two branches or more (one branch is a step of its own)',
    );
  }
  for (const other of [
    'sleep',
    'sleepUntil',
    'signal',
    'timeoutMs',
    'onSignal',
    'onTimeout',
  ] as const) {
    if (step[other] !== undefined) {
      throw invalidArgument(
        `${field}.${other}`,
        'has no place in a parallel step: give it to a branch',
      );
    }
  }
  refuseCommandFields(step, field, 'parallel');
}

/** Whether a step is a sleep (`sleep` or `sleepUntil`) rather than a command. */
export const isSleepStep = (step: WorkflowStep<never>): boolean =>
  step.sleep !== undefined || step.sleepUntil !== undefined;

/** A sleep step takes a duration or a wake-up time, and nothing of a command step's. */
function checkSleepStep(step: WorkflowStep<never>, field: string): void {
  if (step.sleep !== undefined && step.sleepUntil !== undefined) {
    throw invalidArgument(`${field}.sleep`, 'and sleepUntil exclude each other: give one');
  }
  if (step.sleep !== undefined && typeof step.sleep !== 'function') {
    checkSleepMs(`${field}.sleep`, step.sleep);
  }
  if (step.sleepUntil !== undefined && typeof step.sleepUntil !== 'function') {
    throw invalidArgument(
      `${field}.sleepUntil`,
      'must be a function (context) => Date or ISO string',
    );
  }
  refuseCommandFields(step, field, 'sleep', ['timeoutMs']);
}

/** Refuses, in a step that commands nothing, the fields of a command step. */
function refuseCommandFields(
  step: WorkflowStep<never>,
  field: string,
  kind: string,
  more: readonly 'timeoutMs'[] = [],
): void {
  const fields = [
    'entity',
    'command',
    'read',
    'replies',
    'compensate',
    'retry',
    'pivot',
    ...more,
  ] as const;
  for (const other of fields) {
    if (step[other] !== undefined) {
      throw invalidArgument(
        `${field}.${other}`,
        `has no place in a ${kind} step: it commands nothing`,
      );
    }
  }
}

/** A signal step waits for a declared signal, with a timeout if any, and commands nothing. */
function checkSignalStep(
  step: WorkflowStep<never>,
  field: string,
  signals: Readonly<Record<string, string | null>>,
): void {
  if (typeof step.signal !== 'string' || !Object.hasOwn(signals, step.signal)) {
    const declared = Object.keys(signals);
    throw invalidArgument(
      `${field}.signal`,
      `names '${String(step.signal)}', which the workflow does not declare (signals: ${declared.length === 0 ? 'none' : declared.join(', ')})`,
    );
  }
  refuseCommandFields(step, field, 'signal');
  if (
    step.timeoutMs !== undefined &&
    (!Number.isFinite(step.timeoutMs) || step.timeoutMs <= 0 || step.timeoutMs > SLEEP_MAX_MS)
  ) {
    throw invalidArgument(
      `${field}.timeoutMs`,
      `must be a positive number of milliseconds (got ${step.timeoutMs})`,
    );
  }
  for (const fn of ['onSignal'] as const) {
    if (step[fn] !== undefined && typeof step[fn] !== 'function') {
      throw invalidArgument(`${field}.${fn}`, 'must be a function');
    }
  }
}

/**
 * Checks a signal's idempotency key (it becomes part of a causation key of at most 200
 * characters): 1 to 150 characters without spaces.
 */
export function checkSignalKey(key: unknown): void {
  if (key !== undefined && (typeof key !== 'string' || !/^\S{1,150}$/.test(key))) {
    throw invalidArgument('idempotencyKey', 'must be 1 to 150 characters without spaces');
  }
}

/** Checks a sleep's duration, naming where it came from. */
export function checkSleepMs(field: string, ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > SLEEP_MAX_MS) {
    throw invalidArgument(
      field,
      `must be a number of milliseconds from 0 to ${SLEEP_MAX_MS} (got ${String(ms)})`,
    );
  }
  return ms;
}

/** The entity types the steps of the workflows command (each once). */
export function stepEntityTypes(definitions: readonly AnyWorkflowDefinition[]): string[] {
  return [
    ...new Set(
      definitions.flatMap((d) =>
        d.steps
          .flatMap((s) => s.parallel ?? [s])
          .flatMap((s) => (s.entity === undefined ? [] : [s.entity])),
      ),
    ),
  ];
}

/** The version of a definition (1 when it names none). */
export const versionOf = (definition: AnyWorkflowDefinition) => definition.version ?? 1;

/**
 * The id of the workflow started with an idempotency key: the same type and key always give the
 * same id, which is how a second start finds the first workflow.
 */
export function workflowIdOf(type: string, key: string): string {
  return `wf-${createHash('sha256').update(`${type}\n${key}`).digest('hex').slice(0, 32)}`;
}

/**
 * A workflow command's id: workflow id, phase (s = step, c = compensation), step index, the
 * branch's index in a parallel step (b1), attempt: `wf-…:s2.1`, `wf-…:s3b1.2`.
 */
export function workflowCommandId(
  workflowId: string,
  phase: 'forward' | 'compensation',
  stepIndex: number,
  attempt: number,
  branch?: number,
): string {
  return `${workflowId}:${phase === 'forward' ? 's' : 'c'}${stepIndex}${branch === undefined ? '' : `b${branch}`}.${attempt}`;
}

const COMMAND_ID = /^(wf-[0-9a-f]{32}):([sc])(\d+)(?:b(\d+))?\.(\d+)$/;

/** Reads a workflow command id; undefined for any other id. */
export function parseWorkflowCommandId(commandId: string):
  | {
      readonly workflowId: string;
      readonly phase: 'forward' | 'compensation';
      readonly stepIndex: number;
      /** The branch's index in a parallel step. */
      readonly branch?: number;
      readonly attempt: number;
    }
  | undefined {
  const match = COMMAND_ID.exec(commandId);
  if (match === null) return undefined;
  return {
    workflowId: match[1]!,
    phase: match[2] === 's' ? 'forward' : 'compensation',
    stepIndex: Number(match[3]),
    ...(match[4] === undefined ? {} : { branch: Number(match[4]) }),
    attempt: Number(match[5]),
  };
}

/**
 * The causation key under which a participant applies a command: one per workflow step and phase
 * for a workflow's command, whatever its attempt (a slow first attempt and its retry have one
 * effect, and the retry is answered with the first one's reply); the command id for any other.
 */
export function commandCausationKey(commandId: string): string {
  const parsed = parseWorkflowCommandId(commandId);
  return parsed === undefined
    ? `command:${commandId}`
    : `command:${parsed.workflowId}:${parsed.phase === 'forward' ? 's' : 'c'}${parsed.stepIndex}${parsed.branch === undefined ? '' : `b${parsed.branch}`}`;
}

/** The delay before attempt `attempt + 1` after attempt `attempt` timed out. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.delayMs * policy.multiplier ** (attempt - 1));
}
