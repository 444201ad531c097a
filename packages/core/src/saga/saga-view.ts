import { COMPENSATION_REQUESTED, eventRoles, type SagaDefinition } from './saga.js';
import { deriveWorkflowView, isWorkflowTimeline } from '../workflow/workflow-view.js';
import { waitingOf, type SagaWaiting } from './saga-notice.js';

/** Status of a saga, as the tracker sees it. */
export type SagaStatus =
  'running' | 'completed' | 'compensating' | 'compensated' | 'failed' | 'stuck';

/** One event of a saga's timeline. */
export interface TimelineEntry {
  readonly eventId: string;
  readonly type: string;
  /** The service that produced the event. */
  readonly participant: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly occurredAt: string;
  /** Top-level scalar fields of the payload (ids, amounts, reasons). */
  readonly keyFields: Readonly<Record<string, string | number | boolean | null>>;
}

/** A step of a saga, as the tracker sees it. */
export interface StepView {
  readonly name: string;
  /** The parallel step the step is a branch of (workflows only). */
  readonly parallel?: string;
  readonly participant: string;
  /**
   * `abandoned`: the step was asked but had not answered when the saga ended; `skipped`: a
   * workflow completed without it (an earlier step chose a later one).
   */
  readonly status:
    'pending' | 'active' | 'done' | 'failed' | 'compensated' | 'abandoned' | 'skipped';
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly deadlineAt?: string;
  /**
   * The event types the step waits for. A choreography's: its answers while it is active, its
   * compensation while the saga compensates and it is done but not undone yet. A workflow's: the
   * replies its command in flight waits for, when its step lists them (otherwise any reply counts
   * and this is absent).
   */
  readonly awaits?: readonly string[];
  /** True while the command in flight is the step's compensation (workflows only). */
  readonly compensating?: boolean;
}

/** An operator's request to compensate a saga. */
export interface CompensationRequest {
  readonly at: string;
  readonly by: string;
  readonly reason: string;
}

/** Everything known about one saga. */
export interface SagaView {
  readonly sagaId: string;
  /** Undefined until an event tells which saga type it is. */
  readonly type: string | undefined;
  readonly status: SagaStatus;
  readonly businessKey?: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly endedAt?: string;
  readonly currentStep?: string;
  /** When the current step must have answered. */
  readonly deadlineAt?: string;
  /** Why the saga failed or is compensating (the reason field of the failure event). */
  readonly error?: string;
  readonly compensationRequest?: CompensationRequest;
  /**
   * A message of the saga that a consumer group holds back, waiting for what it needs (a
   * workflow version deployed, the schema registry answering), as its `SagaMessageWaiting` notice
   * tells; gone once it is handled or the saga moves on.
   */
  readonly waiting?: SagaWaiting;
  readonly steps: readonly StepView[];
  readonly timeline: readonly TimelineEntry[];
}

const ENDED: readonly SagaStatus[] = ['completed', 'compensated', 'failed'];

/** True for the statuses that end a saga. */
export const isEnded = (status: SagaStatus) => ENDED.includes(status);

function compareEntries(a: TimelineEntry, b: TimelineEntry): number {
  if (a.occurredAt !== b.occurredAt) return a.occurredAt < b.occurredAt ? -1 : 1;
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  const offsets = BigInt(a.offset) - BigInt(b.offset);
  if (offsets !== 0n) return offsets < 0n ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** The saga type that a set of events belongs to. */
export function sagaTypeOf(
  definitions: readonly SagaDefinition[],
  entries: readonly TimelineEntry[],
): SagaDefinition | undefined {
  const types = new Set(entries.map((e) => e.type));
  return (
    definitions.find((d) => types.has(d.startsWith)) ??
    definitions.find((d) => {
      const roles = eventRoles(d);
      return [...types].some((t) => t !== COMPENSATION_REQUESTED && roles.has(t));
    })
  );
}

/**
 * Derives a saga's view from the set of its events. Only the set counts, not the order in which
 * the events arrived, and duplicates count once: rebuilding from the topics gives the same view.
 * A step whose deadline has passed at `now` without an answer makes the saga stuck.
 */
export function deriveSagaView(
  definitions: readonly SagaDefinition[],
  sagaId: string,
  events: readonly TimelineEntry[],
  options: { readonly now: string; readonly compensationRequest?: CompensationRequest },
): SagaView {
  const unique = new Map<string, TimelineEntry>();
  for (const entry of events) if (!unique.has(entry.eventId)) unique.set(entry.eventId, entry);
  const timeline = [...unique.values()].sort(compareEntries);
  const first = timeline[0];
  const last = timeline.at(-1);
  const definition = sagaTypeOf(definitions, timeline);
  const requested = timeline.find((e) => e.type === COMPENSATION_REQUESTED);
  const compensationRequest: CompensationRequest | undefined =
    options.compensationRequest ??
    (requested === undefined
      ? undefined
      : {
          at: String(requested.keyFields['requestedAt'] ?? requested.occurredAt),
          by: String(requested.keyFields['requestedBy'] ?? requested.participant),
          reason: String(requested.keyFields['reason'] ?? ''),
        });
  const waiting = waitingOf(timeline);
  const base = {
    sagaId,
    type: definition?.type,
    startedAt: first?.occurredAt ?? options.now,
    updatedAt: last?.occurredAt ?? options.now,
    timeline,
    ...(compensationRequest === undefined ? {} : { compensationRequest }),
    ...(waiting === undefined ? {} : { waiting }),
  };
  if (isWorkflowTimeline(timeline)) return deriveWorkflowView(base, options.now);
  if (definition === undefined) return { ...base, status: 'running', steps: [] };

  const earliest = (types: readonly string[] | undefined) =>
    types === undefined ? undefined : timeline.find((e) => types.includes(e.type));
  const keyEntry =
    definition.businessKey === undefined
      ? undefined
      : timeline.find((e) => typeof e.keyFields[definition.businessKey!] === 'string');
  const businessKey =
    keyEntry === undefined ? undefined : String(keyEntry.keyFields[definition.businessKey!]);

  let error: string | undefined;
  const steps: StepView[] = definition.steps.map((step) => {
    const trigger = earliest(step.on);
    const success = earliest(step.success);
    const failure = earliest(step.failure);
    const compensation = earliest(step.compensation);
    if (failure !== undefined && error === undefined) {
      const reason = failure.keyFields['reason'];
      error = typeof reason === 'string' ? reason : `${failure.type} from ${failure.participant}`;
    }
    const startedAt = trigger?.occurredAt;
    const view = {
      name: step.name,
      participant: step.participant,
      ...(startedAt === undefined ? {} : { startedAt }),
    };
    if (compensation !== undefined)
      return { ...view, status: 'compensated', endedAt: compensation.occurredAt };
    if (failure !== undefined) return { ...view, status: 'failed', endedAt: failure.occurredAt };
    if (success !== undefined) return { ...view, status: 'done', endedAt: success.occurredAt };
    if (trigger === undefined) return { ...view, status: 'pending' };
    const deadlineAt =
      step.deadlineMs === undefined
        ? undefined
        : new Date(Date.parse(trigger.occurredAt) + step.deadlineMs).toISOString();
    return {
      ...view,
      status: 'active',
      ...(deadlineAt === undefined ? {} : { deadlineAt }),
      awaits: [...step.success, ...(step.failure ?? [])],
    };
  });

  const roles = eventRoles(definition);
  const outcome = [...timeline].reverse().find((e) => roles.get(e.type)?.kind === 'outcome');
  const withKey = {
    ...base,
    ...(businessKey === undefined ? {} : { businessKey }),
    ...(error === undefined ? {} : { error }),
    steps,
  };
  if (outcome !== undefined) {
    const role = roles.get(outcome.type) as { outcome: 'completed' | 'compensated' | 'failed' };
    const ended = steps.map((step): StepView => {
      if (step.status !== 'active') return step;
      const { deadlineAt: _deadline, awaits: _awaits, ...rest } = step;
      return { ...rest, status: 'abandoned' };
    });
    return { ...withKey, steps: ended, status: role.outcome, endedAt: outcome.occurredAt };
  }
  const active = steps.find((s) => s.status === 'active');
  const current = active ?? steps.find((s) => s.status === 'pending');
  const position = {
    ...(current === undefined ? {} : { currentStep: current.name }),
    ...(active?.deadlineAt === undefined ? {} : { deadlineAt: active.deadlineAt }),
  };
  const compensating =
    compensationRequest !== undefined ||
    steps.some((s) => s.status === 'failed' || s.status === 'compensated');
  if (compensating) {
    // The steps done wait for their compensation; the one in flight still for its answer.
    const undoing = steps.map((step, i): StepView => {
      const compensation = definition.steps[i]!.compensation;
      return step.status === 'done' && compensation !== undefined && compensation.length > 0
        ? { ...step, awaits: compensation }
        : step;
    });
    return { ...withKey, steps: undoing, ...position, status: 'compensating' };
  }
  if (active?.deadlineAt !== undefined && active.deadlineAt <= options.now) {
    return { ...withKey, ...position, status: 'stuck' };
  }
  return { ...withKey, ...position, status: 'running' };
}

/** One thing a saga that has not ended waits for: see {@link awaitedOf}. */
export interface AwaitedAnswer {
  /** The step (the branch, for a branch of a parallel step). */
  readonly step: string;
  /** The parallel step the branch belongs to. */
  readonly parallel?: string;
  /**
   * `answer`: the step's answer; `compensation`: its compensation's; `signal`: a signal (a
   * workflow's); `sleep`: the end of a sleep.
   */
  readonly kind: 'answer' | 'compensation' | 'signal' | 'sleep';
  /** The signal waited for, when `kind` is `signal`. */
  readonly signal?: string;
  /** The event types awaited; absent when any reply counts, and for a signal or a sleep. */
  readonly events?: readonly string[];
  /** Who answers: a service, an entity type, `sleep` or `signal <name>`. */
  readonly participant: string;
  readonly since?: string;
  readonly until?: string;
}

/** The part of a view {@link awaitedOf} reads (as the admin API gives it too). */
export interface AwaitingView {
  readonly status: string;
  readonly updatedAt?: string;
  readonly compensationRequest?: Pick<CompensationRequest, 'at'>;
  readonly steps: readonly (Omit<StepView, 'status'> & { readonly status: string })[];
}

/**
 * What a saga that has not ended waits for, step by step: an active step's answers (a workflow
 * step's listed replies, or any reply; a signal; a sleep's end), or while it compensates, each
 * compensation in flight (a choreography's steps done, a workflow's compensation command); from
 * whom, since when and until when. The admin page and the CLI both show this.
 */
export function awaitedOf(view: AwaitingView): AwaitedAnswer[] {
  if ((ENDED as readonly string[]).includes(view.status)) return [];
  const failedAt = view.steps.find((s) => s.status === 'failed')?.endedAt;
  const compensatingSince = view.compensationRequest?.at ?? failedAt ?? view.updatedAt;
  return view.steps.flatMap((s): AwaitedAnswer[] => {
    const undoing =
      view.status === 'compensating' &&
      s.status === 'done' &&
      s.awaits !== undefined &&
      s.awaits.length > 0;
    if (s.status !== 'active' && !undoing) return [];
    const compensation = undoing || s.compensating === true;
    // A workflow's sleep and signal wait are told by their participant: `sleep`, `signal <name>`.
    const signal = s.participant.startsWith('signal ')
      ? s.participant.slice('signal '.length)
      : undefined;
    const since = compensation ? compensatingSince : s.startedAt;
    const until = undoing || s.deadlineAt === '' ? undefined : s.deadlineAt;
    return [
      {
        step: s.name,
        ...(s.parallel === undefined ? {} : { parallel: s.parallel }),
        kind: compensation
          ? 'compensation'
          : s.participant === 'sleep'
            ? 'sleep'
            : signal !== undefined
              ? 'signal'
              : 'answer',
        ...(signal === undefined ? {} : { signal }),
        ...(s.awaits !== undefined && s.awaits.length > 0 ? { events: s.awaits } : {}),
        participant: s.participant,
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
      },
    ];
  });
}
