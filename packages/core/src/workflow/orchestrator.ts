import { BackgroundLoop } from '../service/background-loop.js';
import { backgroundReporter } from '../telemetry/instrumentation.js';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from '../backoff.js';
import { setBounded } from '../bounded-map.js';
import type { Commit } from '../entity/commit.js';
import type { EntityStore } from '../entity/entity-store.js';
import { commandsTopic, eventsTopic } from '../messaging/envelope.js';
import { invalidArgument, SagaflowError } from '../errors.js';
import { newId } from '../ids.js';
import type { Pingable } from '../messaging/message-bus.js';
import {
  defineCommandEndpoint,
  defineProcessor,
  type AnyProcessorDefinition,
  type ReceivedEvent,
} from '../processor/processor.js';
import {
  SagaflowService,
  type Readiness,
  type SagaflowServiceOptions,
  type ServiceBus,
} from '../service/sagaflow-service.js';
import type { DurableTimer, TimerStore } from './timer-store.js';
import {
  checkSignalKey,
  parseWorkflowCommandId,
  stepEntityTypes,
  versionOf,
  workflowIdOf,
  type AnyWorkflowDefinition,
  type StepViews,
} from './workflow.js';
import { workflowControlCommands, workflowEntity, type WorkflowState } from './workflow-entity.js';

/** Starts a workflow for each event of a type on a topic. */
export interface WorkflowTrigger {
  readonly topic: string;
  readonly eventType: string;
  /** The workflow type to start. */
  readonly workflow: string;
  /** The idempotency key: the same key starts the workflow once. */
  readonly key: (event: ReceivedEvent) => string;
  readonly input: (event: ReceivedEvent) => unknown;
  /** Starts a workflow only for the events it accepts (e.g. by a payload field). @default all */
  readonly when?: (event: ReceivedEvent) => boolean;
}

/** Where a test may stop the orchestrator (SIGKILL) to prove that it recovers. */
export type OrchestratorFaultPoint =
  'timer-written' | 'after-start' | 'after-reply' | 'after-read' | 'after-fire' | 'after-publish';

/** Options of {@link Orchestrator}. */
export interface OrchestratorOptions extends Pick<
  SagaflowServiceOptions,
  | 'partitions'
  | 'relay'
  | 'compaction'
  | 'processing'
  | 'onError'
  | 'serde'
  | 'metrics'
  | 'logger'
  | 'views'
  | 'viewStore'
> {
  /** The service name, e.g. `orchestrator-service`: names its groups and relay. */
  readonly name: string;
  /** Where workflow instances live, with their outbox. */
  readonly store: EntityStore & Partial<Pingable>;
  /** Where their timers live. */
  readonly timers: TimerStore;
  /** The bus (see the service's `bus`). */
  readonly bus: ServiceBus;
  /**
   * Workflow definitions, every version still running: an instance runs to its end on the
   * version it started with; new instances start on the highest version of their type.
   */
  readonly workflows: readonly AnyWorkflowDefinition[];
  /** The entity type that holds the instances; names its topics. @default 'sagaflow.workflow' */
  readonly entityType?: string;
  /** Events that start workflows. @default [] */
  readonly triggers?: readonly WorkflowTrigger[];
  /**
   * Pause between looks for due timers in the timer store. A timer this process sets wakes it at
   * its due time; the look finds those of the other processes, those of before a restart, and
   * those set while 100,000 wait already. @default 1000
   */
  readonly timerIntervalMs?: number;
  /**
   * How long after its due time a timer whose commit is still missing counts as an orphan (its
   * writer died before the commit) and is deleted. A commit that comes later all the same (a
   * writer slower than this) stores its timer again. @default 60000
   */
  readonly orphanTimerMs?: number;
  /**
   * How long one firing of a timer may take (its view read, the workflow's commit, the timer's
   * deletion) before it counts as failed: a read or a database call that never answers (a
   * server restarted under it) then holds its workflow back for this long, not for good. The
   * firing may still finish later; firing a timer twice changes nothing. @default 60000
   */
  readonly fireTimeoutMs?: number;
  /** Fault injection for tests: awaited at each point. @default none */
  readonly faults?: (point: OrchestratorFaultPoint) => Promise<void> | void;
}

/** What a start did. */
export interface WorkflowStart {
  readonly workflowId: string;
  /** False when a workflow with this key existed already: the start changed nothing. */
  readonly created: boolean;
  readonly version: number;
}

/** What sending a signal did. */
export interface SignalSent {
  readonly workflowId: string;
  readonly signal: string;
  /** True when a signal with the same idempotency key was sent before: this one changed nothing. */
  readonly duplicate: boolean;
}

/** An operator's request to a workflow. */
export interface OperatorRequest {
  readonly requestedBy: string;
  readonly reason: string;
}

const KEY_MAX = 200;

/** Workflows whose due timers are fired at once. */
const FIRING_AT_ONCE = 16;

/**
 * How a timer that failed to fire (a read step whose view cannot be read, a database error) backs
 * off: it is postponed, so that it leaves the earliest timers to those due after it.
 */
const TIMER_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, multiplier: 2 };
/** How soon a timer whose commit is missing (yet) is looked at again. */
const MISSING_COMMIT_RECHECK_MS = 1_000;
/** Timers whose failures in a row are counted (the oldest counts dropped first). */
const FAILING_REMEMBERED = 10_000;

/** Timers of this process waited for in memory at once; the look at the store finds the rest. */
const ALARMS_MAX = 100_000;

/**
 * Runs workflows: each instance is an entity whose every change (new state, workflow events, the
 * commands to send) is one commit, published by the outbox relay. Replies are read from the
 * participants' event topics and applied once per event id; timers (reply deadlines, retry
 * delays, view reads) are stored before the commit that needs them and fired by a loop that
 * survives restarts. Operators retry and cancel through the entity's command topic.
 */
export class Orchestrator {
  readonly service: SagaflowService;
  readonly entity: ReturnType<typeof workflowEntity>;
  readonly #options: OrchestratorOptions;
  readonly #definitions = new Map<string, AnyWorkflowDefinition>();
  readonly #latest = new Map<string, AnyWorkflowDefinition>();
  readonly #timerLoop: BackgroundLoop;
  readonly #fault: (point: OrchestratorFaultPoint) => Promise<void>;
  /** See {@link OrchestratorOptions.orphanTimerMs}. */
  readonly #orphanMs: number;
  /** See {@link OrchestratorOptions.fireTimeoutMs}. */
  readonly #fireTimeoutMs: number;
  /** When this process stored each timer whose commit it has not made yet. */
  readonly #scheduledAt = new Map<string, number>();
  readonly #onError: (error: unknown, where: string) => void;
  /** Timers being fired, by id. */
  readonly #firing = new Map<
    string,
    { readonly workflowId: string; readonly firing: Promise<void> }
  >();

  constructor(options: OrchestratorOptions) {
    if (options.workflows.length === 0) {
      throw invalidArgument('workflows', 'must hold at least one workflow definition');
    }
    for (const definition of options.workflows) {
      const id = `${definition.type}@${versionOf(definition)}`;
      if (this.#definitions.has(id)) {
        throw invalidArgument(
          'workflows',
          `hold ${definition.type} version ${versionOf(definition)} twice`,
        );
      }
      if (definition.inputSchema !== undefined && options.serde.check === undefined) {
        throw invalidArgument(
          'workflows',
          `${definition.type} declares the inputSchema ${definition.inputSchema}, which needs a serde that checks payloads`,
        );
      }
      const typed = Object.entries(definition.signals ?? {}).find(([, schema]) => schema !== null);
      if (typed !== undefined && options.serde.check === undefined) {
        throw invalidArgument(
          'workflows',
          `${definition.type} declares the signal ${typed[0]} of ${typed[1]}, which needs a serde that checks payloads`,
        );
      }
      this.#definitions.set(id, definition);
      const latest = this.#latest.get(definition.type);
      if (latest === undefined || versionOf(latest) < versionOf(definition)) {
        this.#latest.set(definition.type, definition);
      }
    }
    const interval = options.timerIntervalMs ?? 1000;
    if (!Number.isFinite(interval) || interval <= 0) {
      throw invalidArgument('timerIntervalMs', `must be a positive number (got ${interval})`);
    }
    const orphanMs = options.orphanTimerMs ?? 60_000;
    if (!Number.isFinite(orphanMs) || orphanMs <= 0) {
      throw invalidArgument('orphanTimerMs', `must be a positive number (got ${orphanMs})`);
    }
    this.#orphanMs = orphanMs;
    const fireTimeoutMs = options.fireTimeoutMs ?? 60_000;
    if (!Number.isFinite(fireTimeoutMs) || fireTimeoutMs <= 0) {
      throw invalidArgument('fireTimeoutMs', `must be a positive number (got ${fireTimeoutMs})`);
    }
    this.#fireTimeoutMs = fireTimeoutMs;
    this.#options = options;
    this.#fault = async (point) => {
      await options.faults?.(point);
    };
    const entityType = options.entityType ?? 'sagaflow.workflow';
    this.entity = workflowEntity(
      entityType,
      (type, version) => this.definition(type, version),
      (schema, payload) => options.serde.check?.(schema, payload),
    );
    // Timer rounds are this class's own loop: counted, logged and told like the service's loops.
    const onError = backgroundReporter({
      service: options.name,
      metrics: options.metrics,
      logger: options.logger,
      onError: options.onError,
    });
    this.#onError = onError;
    this.#timerLoop = new BackgroundLoop(async () => (await this.#dispatchDueTimers()).more, {
      idleMs: interval,
      backoff: defaultBackoff,
      onError: (error) => onError(error, 'timers'),
    });
    const participants = stepEntityTypes(options.workflows);
    const processors: AnyProcessorDefinition[] = [
      defineProcessor({
        name: 'workflow-replies',
        topics: participants.map(eventsTopic),
        handlers: {},
        // A reply's causation id is a workflow command id whose workflow is the event's saga.
        filter: (envelope) =>
          parseWorkflowCommandId(envelope.causationId)?.workflowId === envelope.sagaId,
        fallback: async (event, context) => {
          await context.execute(this.entity, event.sagaId, 'Reply', {
            commandId: event.causationId,
            eventId: event.eventId,
            eventType: event.type,
            entityType: event.entityType,
            entityId: event.entityId,
            payload: event.payload,
          });
          await this.#fault('after-reply');
        },
      }),
    ];
    const triggers = options.triggers ?? [];
    if (triggers.length > 0) {
      const handlers: Record<string, (event: ReceivedEvent) => Promise<void>> = {};
      for (const [i, trigger] of triggers.entries()) {
        if (!this.#latest.has(trigger.workflow)) {
          throw invalidArgument(
            `triggers[${i}].workflow`,
            `names '${trigger.workflow}', which is not a workflow here`,
          );
        }
        if (Object.hasOwn(handlers, trigger.eventType)) {
          throw invalidArgument(`triggers[${i}].eventType`, `repeats '${trigger.eventType}'`);
        }
        handlers[trigger.eventType] = async (event) => {
          if (trigger.when !== undefined && !trigger.when(event)) return;
          await this.startWorkflow(trigger.workflow, {
            key: trigger.key(event),
            input: trigger.input(event),
          });
        };
      }
      const known = Object.keys(handlers);
      processors.push(
        defineProcessor({
          name: 'workflow-triggers',
          topics: [...new Set(triggers.map((t) => t.topic))],
          handlers,
          filter: (envelope) => known.includes(envelope.type),
        }),
      );
    }
    this.service = new SagaflowService({
      name: options.name,
      store: options.store,
      bus: options.bus,
      serde: options.serde,
      entities: [this.entity],
      processors,
      // The command topics it sends to exist before the relay publishes there.
      topics: participants.map(commandsTopic),
      commandEndpoints: [
        // A workflow is its own saga: a signal sent by another saga's commit does not move it.
        defineCommandEndpoint({
          entity: this.entity,
          commands: { ...workflowControlCommands },
          ownSaga: true,
        }),
      ],
      ...(options.views === undefined ? {} : { views: options.views }),
      ...(options.viewStore === undefined ? {} : { viewStore: options.viewStore }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      ...(options.relay === undefined ? {} : { relay: options.relay }),
      ...(options.compaction === undefined ? {} : { compaction: options.compaction }),
      ...(options.processing === undefined ? {} : { processing: options.processing }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      beforeAppend: (commit) => this.#scheduleTimer(commit),
      // A timer stored for a commit that then lost its version fires for nothing: the workflow's
      // timer is another one by then, and the stray is deleted (see #fire).
      beforeAppendToleratesConflicts: true,
      onCommitted: (commit) => {
        const { timer, supersededTimer } = commit.state as WorkflowState;
        this.#restoreLateTimer(commit);
        if (timer !== undefined) this.#alarm(Orchestrator.#timerDocId(timer), timer.dueAt);
        const deadline = this.#deadlineSetBy(commit);
        if (deadline !== undefined) this.#alarm(deadline.id, deadline.dueAt);
        // The timer this commit replaced would fire for nothing: forget it now (best effort).
        if (supersededTimer !== undefined) {
          this.#disarm(Orchestrator.#timerDocId(supersededTimer));
          this.#options.timers
            .delete([Orchestrator.#timerDocId(supersededTimer)])
            .catch((error: unknown) => onError(error, 'timers'));
        }
      },
      afterPublish: () => this.#fault('after-publish'),
    });
  }

  /** The entity type that holds the workflow instances. */
  get entityType(): string {
    return this.entity.type;
  }

  /** The definition of a workflow type at a version; UNKNOWN_WORKFLOW when it is not deployed. */
  definition(type: string, version?: number): AnyWorkflowDefinition {
    const definition =
      version === undefined ? this.#latest.get(type) : this.#definitions.get(`${type}@${version}`);
    if (definition === undefined) {
      const deployed = [...this.#definitions.keys()].join(', ');
      throw new SagaflowError(
        'UNKNOWN_WORKFLOW',
        version === undefined
          ? `no workflow type '${type}' here (deployed: ${deployed})`
          : `${type} version ${version} is not deployed here (deployed: ${deployed}); keep every version that still has running instances`,
        { retriable: version !== undefined },
      );
    }
    return definition;
  }

  async start(): Promise<void> {
    await this.#options.timers.prepare();
    await this.service.start();
    this.#timerLoop.start();
  }

  async stop(): Promise<void> {
    for (const alarm of this.#alarms.values()) clearTimeout(alarm);
    this.#alarms.clear();
    await this.#timerLoop.stop();
    await Promise.all([...this.#firing.values()].map((f) => f.firing));
    await this.service.stop();
  }

  readiness(): Promise<Readiness> {
    return this.service.readiness();
  }

  /**
   * Starts a workflow of the type's latest version, once per idempotency key: a second start with
   * the same key returns the first workflow and changes nothing.
   */
  async startWorkflow(
    type: string,
    request: { readonly key: string; readonly input: unknown },
  ): Promise<WorkflowStart> {
    if (typeof type !== 'string' || !this.#latest.has(type)) {
      throw invalidArgument(
        'type',
        `names no workflow here (got '${String(type)}'; known: ${[...this.#latest.keys()].join(', ')})`,
      );
    }
    const { key } = request;
    if (typeof key !== 'string' || key.length === 0 || key.length > KEY_MAX) {
      throw invalidArgument('key', `must be a string of 1 to ${KEY_MAX} characters`);
    }
    const definition = this.definition(type);
    let input: unknown = request.input;
    if (definition.inputSchema !== undefined) this.#checkInput(definition.inputSchema, input);
    if (definition.input !== undefined) {
      try {
        input = definition.input(request.input);
      } catch (error) {
        if (error instanceof SagaflowError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        // The validator names the field (`input.quantity must …`); else say it is the input.
        throw message.startsWith('input')
          ? new SagaflowError('INVALID_ARGUMENT', message, { context: { field: 'input' } })
          : invalidArgument('input', message);
      }
    }
    const version = versionOf(definition);
    const workflowId = workflowIdOf(type, key);
    const businessKey = definition.businessKey?.(input);
    const result = await this.service.execute(
      this.entity,
      workflowId,
      'Start',
      { type, version, key, input, ...(businessKey === undefined ? {} : { businessKey }) },
      { causationKey: 'start', sagaId: workflowId },
    );
    await this.#fault('after-start');
    if (result.status === 'committed') return { workflowId, created: true, version };
    // A start is never refused: the workflow existed, and the result holds its state.
    const existing = result.status === 'rejected' ? undefined : result.state;
    return { workflowId, created: false, version: existing?.version ?? version };
  }

  /**
   * Refuses a value (a start's input, a signal's payload) that does not fit its schema, naming
   * the field under `field` (`input.items.0.quantity`).
   */
  #checkInput(schema: string, input: unknown, field = 'input'): void {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw invalidArgument(field, `must be an object (${schema})`);
    }
    try {
      this.#options.serde.check?.(schema, input);
    } catch (error) {
      if (!(error instanceof SagaflowError) || error.code !== 'SERDE_FAILED') throw error;
      const path = error.context.field;
      throw new SagaflowError('INVALID_ARGUMENT', `${field}: ${error.message}`, {
        context: { field: path === undefined || path === '' ? field : `${field}.${path}` },
      });
    }
  }

  /** The state of a workflow instance, if it exists. */
  async get(workflowId: string): Promise<WorkflowState | undefined> {
    const snapshot = await this.#options.store.load<WorkflowState>(this.entity.type, workflowId);
    return snapshot === undefined || snapshot.state.status === 'new' ? undefined : snapshot.state;
  }

  /**
   * Sends a signal to a workflow: the step that waits for it takes it, or the workflow keeps it
   * until one does. Once per idempotency key (a second send with the key changes nothing). The
   * workflow must exist and run (`NOT_FOUND`; `COMMAND_REJECTED` once it has ended), declare the
   * signal (`INVALID_ARGUMENT` naming `name`), and the payload fit the signal's schema
   * (`INVALID_ARGUMENT` naming `payload.<field>`).
   */
  async signal(
    workflowId: string,
    name: string,
    payload: unknown,
    options: { readonly idempotencyKey?: string; readonly requestedBy?: string } = {},
  ): Promise<SignalSent> {
    const state = await this.get(workflowId);
    if (state === undefined) throw new SagaflowError('NOT_FOUND', `no workflow '${workflowId}'`);
    const declared = this.definition(state.type, state.version).signals ?? {};
    if (typeof name !== 'string' || !Object.hasOwn(declared, name)) {
      const names = Object.keys(declared);
      throw invalidArgument(
        'name',
        `names no signal of ${state.type} v${state.version} (got '${String(name)}'; signals: ${names.length === 0 ? 'none' : names.join(', ')})`,
      );
    }
    const schema = declared[name];
    let json: string | undefined;
    try {
      json = JSON.stringify(payload ?? null);
    } catch {
      json = undefined;
    }
    if (json === undefined) throw invalidArgument('payload', 'must be JSON');
    if (schema !== null && schema !== undefined) this.#checkInput(schema, payload, 'payload');
    const key = options.idempotencyKey;
    checkSignalKey(key);
    const result = await this.service.execute(
      this.entity,
      workflowId,
      'Signal',
      { name, payload: json, requestedBy: options.requestedBy ?? '', key: key ?? '' },
      { causationKey: `signal:${key ?? newId()}`, sagaId: workflowId },
    );
    if (result.status === 'rejected') {
      throw new SagaflowError('COMMAND_REJECTED', result.rejection.reason);
    }
    // A repeat: its key was taken before (a duplicate commit, or remembered by the workflow).
    return { workflowId, signal: name, duplicate: result.status !== 'committed' };
  }

  /** Runs the failed step of a failed workflow again (a new attempt). */
  retry(workflowId: string, request: OperatorRequest): Promise<WorkflowState> {
    return this.#operate(workflowId, 'Retry', request);
  }

  /** Cancels a running workflow: its completed steps are compensated, last first. */
  cancel(workflowId: string, request: OperatorRequest): Promise<WorkflowState> {
    return this.#operate(workflowId, 'Cancel', request);
  }

  async #operate(
    workflowId: string,
    command: 'Retry' | 'Cancel',
    request: OperatorRequest,
  ): Promise<WorkflowState> {
    if ((await this.get(workflowId)) === undefined) {
      throw new SagaflowError('NOT_FOUND', `no workflow '${workflowId}'`);
    }
    const result = await this.service.execute(this.entity, workflowId, command, request, {
      causationKey: `operator:${newId()}`,
      sagaId: workflowId,
    });
    if (result.status === 'rejected') {
      throw new SagaflowError('COMMAND_REJECTED', result.rejection.reason);
    }
    return result.state;
  }

  /** The service's views by name, for the steps' reads; another name throws naming it. */
  readonly #views: StepViews = new Proxy(
    {},
    {
      get: (_target, name) =>
        typeof name === 'string' ? this.service.view<never>(name) : undefined,
    },
  );

  /** Wake-ups of the timer loop at the due time of this process's timers, by timer id. */
  readonly #alarms = new Map<string, NodeJS.Timeout>();

  /**
   * Wakes the timer loop when a timer is due: at once if it is, else at its time (unless too
   * many wait already: the loop's look at the store finds it then).
   */
  #alarm(id: string, dueAt: string): void {
    const delay = Date.parse(dueAt) - Date.now();
    if (delay <= 0) {
      this.#timerLoop.wake();
      return;
    }
    if (this.#alarms.has(id) || this.#alarms.size >= ALARMS_MAX) return;
    // A timeout rings after at most 2^31 - 1 ms (a longer one rings at once): a timer due later
    // is waited for in several rings.
    const alarm = setTimeout(
      () => {
        this.#alarms.delete(id);
        // A timeout may also ring a little before the wall clock says the timer is due.
        this.#alarm(id, dueAt);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    alarm.unref();
    this.#alarms.set(id, alarm);
  }

  #disarm(id: string): void {
    clearTimeout(this.#alarms.get(id));
    this.#alarms.delete(id);
  }

  /** A timer document's id: the workflow's timer id and its due time. */
  static #timerDocId(timer: { readonly id: string; readonly dueAt: string }): string {
    return `${timer.id}|${timer.dueAt}`;
  }

  /** The durable timer a workflow commit sets, if it sets one (a timer of its own version). */
  #timerSetBy(commit: Commit): DurableTimer | undefined {
    return this.#durableSetBy(commit, (commit.state as WorkflowState).timer);
  }

  /** The deadline timer a workflow's start sets, if its definition has one. */
  #deadlineSetBy(commit: Commit): DurableTimer | undefined {
    return this.#durableSetBy(commit, (commit.state as WorkflowState).deadline, '!deadline');
  }

  /** A timer of a workflow's state as stored, if the commit set it (its id names the commit). */
  #durableSetBy(
    commit: Commit,
    timer: { readonly id: string; readonly dueAt: string } | undefined,
    suffix = '',
  ): DurableTimer | undefined {
    if (timer?.id !== `${commit.entityId}@${commit.version}${suffix}`) return undefined;
    return {
      id: Orchestrator.#timerDocId(timer),
      owner: this.entity.type,
      workflowId: commit.entityId,
      dueAt: timer.dueAt,
    };
  }

  /** Stores the timers a commit sets (its step's, and its deadline at the start), before it exists. */
  async #scheduleTimer(commit: Commit): Promise<void> {
    if (commit.entityType !== this.entity.type) return;
    const deadline = this.#deadlineSetBy(commit);
    if (deadline !== undefined) await this.#options.timers.schedule(deadline);
    const durable = this.#timerSetBy(commit);
    if (durable === undefined) return;
    setBounded(this.#scheduledAt, durable.id, Date.now(), FAILING_REMEMBERED);
    await this.#options.timers.schedule(durable);
    await this.#fault('timer-written');
  }

  /**
   * Stores again the timer of a commit that came so long after its timer was stored that the
   * timer may have been taken for an orphan and deleted (see {@link OrchestratorOptions.orphanTimerMs}):
   * storing the same timer twice changes nothing.
   */
  #restoreLateTimer(commit: Commit): void {
    const durable = this.#timerSetBy(commit);
    if (durable === undefined) return;
    const storedAt = this.#scheduledAt.get(durable.id);
    this.#scheduledAt.delete(durable.id);
    if (storedAt === undefined || Date.now() - storedAt < this.#orphanMs / 2) return;
    this.#options.timers
      .schedule(durable)
      .then(() => this.#timerLoop.wake())
      .catch((error: unknown) => this.#onError(error, 'timers'));
  }

  /**
   * Fires the timers that are due, and resolves once those it started have fired; true when there
   * may be more.
   */
  async fireDueTimers(): Promise<boolean> {
    const { started, more } = await this.#dispatchDueTimers();
    await Promise.all(started);
    return more;
  }

  /**
   * Starts firing the due timers, up to {@link FIRING_AT_ONCE} at a time, one at a time per
   * workflow, and returns without waiting for them: a read step waits on another service, and one
   * slow read must hold back no other workflow. A timer that ends wakes the loop for the next.
   */
  async #dispatchDueTimers(): Promise<{ started: Promise<void>[]; more: boolean }> {
    const limit = 100;
    const due = await this.#options.timers.due(this.entity.type, new Date().toISOString(), limit);
    const busy = new Set([...this.#firing.values()].map((f) => f.workflowId));
    const started: Promise<void>[] = [];
    for (const timer of due) {
      if (this.#firing.size >= FIRING_AT_ONCE) break;
      if (this.#firing.has(timer.id) || busy.has(timer.workflowId)) continue;
      busy.add(timer.workflowId);
      const firing = this.#bounded(this.#fire(timer), timer)
        .then(
          () => void this.#timerFailures.delete(timer.id),
          // One failing timer (a view that cannot be read) must not hold back the others.
          (error: unknown) => this.#backOff(timer, error),
        )
        .finally(() => {
          this.#firing.delete(timer.id);
          this.#timerLoop.wake();
        });
      this.#firing.set(timer.id, { workflowId: timer.workflowId, firing });
      started.push(firing);
    }
    return { started, more: started.length > 0 && due.length === limit };
  }

  /** A firing that fails once it has taken longer than {@link OrchestratorOptions.fireTimeoutMs}. */
  #bounded(firing: Promise<void>, timer: DurableTimer): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timeout = setTimeout(
        () =>
          reject(
            new SagaflowError(
              'STORE_UNAVAILABLE',
              `timer ${timer.id} did not fire within ${this.#fireTimeoutMs} ms (a read or a database call did not answer); it fires again`,
              { retriable: true, context: { sagaId: timer.workflowId } },
            ),
          ),
        this.#fireTimeoutMs,
      );
      timeout.unref();
    });
    // The firing left behind may still end; whatever it did is done again, once, by the next.
    firing.catch(() => {});
    return Promise.race([firing, late]).finally(() => clearTimeout(timeout));
  }

  /** Failures in a row of the timers that failed to fire, by timer id. */
  readonly #timerFailures = new Map<string, number>();

  /** Postpones a timer that failed to fire, longer after each failure in a row. */
  async #backOff(timer: DurableTimer, error: unknown): Promise<void> {
    this.#onError(error, 'timers');
    const failures = (this.#timerFailures.get(timer.id) ?? 0) + 1;
    setBounded(this.#timerFailures, timer.id, failures, FAILING_REMEMBERED);
    const delay = TIMER_BACKOFF.initialMs + backoffDelay(TIMER_BACKOFF, failures);
    const dueAt = new Date(Date.now() + delay).toISOString();
    // A store that cannot take the write either: the timer fires again at its old time.
    await this.#options.timers.postpone(timer.id, dueAt).catch(() => {});
    this.#alarm(timer.id, dueAt);
  }

  async #fire(timer: DurableTimer): Promise<void> {
    const snapshot = await this.#options.store.load<WorkflowState>(
      this.entity.type,
      timer.workflowId,
    );
    // A timer is written before the commit that sets it: while that commit is not there (yet),
    // the timer is neither due nor stale. Its commit never came if it is long overdue.
    const setBy = Number(/@(\d+)(?:!deadline)?\|/.exec(timer.id)?.[1] ?? 0);
    if ((snapshot?.version ?? 0) < setBy) {
      // The due time it was stored with (postponing changes the document's, not the id's).
      const storedDue = Date.parse(timer.id.slice(timer.id.lastIndexOf('|') + 1));
      const orphanAt =
        (Number.isNaN(storedDue) ? Date.parse(timer.dueAt) : storedDue) + this.#orphanMs;
      if (Date.now() <= orphanAt) {
        // Looked at again in a while, not at once: a commit that never comes must not keep the
        // loop reading it for a minute.
        const again = new Date(
          Math.min(orphanAt + 1, Date.now() + MISSING_COMMIT_RECHECK_MS),
        ).toISOString();
        await this.#options.timers.postpone(timer.id, again);
        this.#alarm(timer.id, again);
        return;
      }
      await this.#options.timers.delete([timer.id]);
      // Its commit may have come meanwhile, from a writer slower than the orphan wait: the
      // commit keeps its timer (the writer stores it again too, if it still runs).
      const again = await this.#options.store.load<WorkflowState>(
        this.entity.type,
        timer.workflowId,
      );
      const pending = again?.state.timer;
      if (pending !== undefined && Orchestrator.#timerDocId(pending) === timer.id) {
        await this.#options.timers.schedule(timer);
      }
      return;
    }
    const state = snapshot?.state;
    // The timer is the workflow's deadline, or its current timer; any other fires for nothing.
    const deadline = state?.deadline;
    const current = state?.timer;
    const fired =
      deadline !== undefined && Orchestrator.#timerDocId(deadline) === timer.id
        ? deadline
        : current !== undefined && Orchestrator.#timerDocId(current) === timer.id
          ? current
          : undefined;
    if (state !== undefined && fired !== undefined) {
      let view: unknown;
      if (fired === current && current.kind === 'read') {
        const definition = this.definition(state.type, state.version);
        const step = definition.steps.find((s) => s.name === state.current?.step);
        view = await step?.read?.(
          { workflowId: timer.workflowId, input: state.input, results: state.results },
          this.#views,
        );
        await this.#fault('after-read');
      }
      await this.service.execute(
        this.entity,
        timer.workflowId,
        'Fire',
        { timerId: fired.id, ...(view === undefined ? {} : { view }) },
        { causationKey: `timer:${timer.id}`, sagaId: timer.workflowId },
      );
      await this.#fault('after-fire');
    }
    await this.#options.timers.delete([timer.id]);
  }
}
