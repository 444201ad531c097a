import type { EventEnvelope } from '../messaging/envelope.js';
import { eventsTopic } from '../messaging/envelope.js';
import type {
  CompensationRequest,
  SagaStatus,
  SagaView,
  StepView,
  TimelineEntry,
} from '../saga/saga-view.js';
import { parseWorkflowCommandId, stepEntityTypes, type AnyWorkflowDefinition } from './workflow.js';
import { workflowEventTypes } from './workflow-entity.js';

/**
 * How long past a step's deadline a workflow counts as stuck: the orchestrator acts on the
 * deadline itself, so a workflow is stuck only when the orchestrator does not (it is down).
 */
export const WORKFLOW_STUCK_GRACE_MS = 5000;

/**
 * How long a running workflow may go without starting its next step (its view read failing, an
 * orchestrator that does not fire it) before it counts as stuck: it is waiting on something.
 */
export const WORKFLOW_START_GRACE_MS = 60_000;

const WORKFLOW_EVENTS: ReadonlySet<string> = new Set(workflowEventTypes);

/** True for the events of a workflow instance or the replies to its commands. */
export function isWorkflowEvent(envelope: Pick<EventEnvelope, 'type' | 'sagaId' | 'causationId'>) {
  return (
    WORKFLOW_EVENTS.has(envelope.type) ||
    parseWorkflowCommandId(envelope.causationId)?.workflowId === envelope.sagaId
  );
}

/** The topics a tracker reads to follow workflows: the instances' and the participants'. */
export function workflowTopics(
  entityType: string,
  definitions: readonly AnyWorkflowDefinition[],
): string[] {
  return [eventsTopic(entityType), ...stepEntityTypes(definitions).map(eventsTopic)];
}

/**
 * What a started step waits on: its command's entity type, or for a step that commands nothing,
 * `sleep` or `signal <name>`.
 */
function participantOf(entry: TimelineEntry): string | undefined {
  const kind = text(entry, 'commandType');
  if (kind === 'sleep') return 'sleep';
  if (kind === 'signal') return `signal ${text(entry, 'entityId') ?? ''}`;
  return text(entry, 'entityType');
}

/** Forgets what a step waited for: it was answered, or waits for something else now. */
function settle(step: { awaits?: StepView['awaits']; compensating?: boolean }): void {
  delete step.awaits;
  delete step.compensating;
}

const text = (entry: TimelineEntry, field: string) => {
  const value = entry.keyFields[field];
  return typeof value === 'string' ? value : undefined;
};

/** True when the timeline is that of an orchestrated workflow. */
export const isWorkflowTimeline = (timeline: readonly TimelineEntry[]) =>
  timeline.some((e) => e.type === 'WorkflowStarted');

/**
 * Derives the view of an orchestrated workflow from its events (sorted timeline): the same shape
 * as a choreography's view, with one step per workflow step, so that both kinds appear side by
 * side in the admin.
 */
export function deriveWorkflowView(
  base: Pick<SagaView, 'sagaId' | 'startedAt' | 'updatedAt' | 'timeline' | 'waiting'>,
  now: string,
): SagaView {
  const { timeline } = base;
  const started = timeline.find((e) => e.type === 'WorkflowStarted')!;
  // A parallel step's branches are listed as `<step>/<branch>`.
  const names = (text(started, 'steps') ?? '').split(',').filter((n) => n !== '');
  const steps = new Map<string, { -readonly [K in keyof StepView]: StepView[K] }>(
    names.map((listed) => {
      const [group, branch] = listed.split('/');
      const name = branch ?? group!;
      return [
        name,
        {
          name,
          ...(branch === undefined ? {} : { parallel: group! }),
          participant: '',
          status: 'pending',
        },
      ];
    }),
  );
  let status: SagaStatus = 'running';
  let endedAt: string | undefined;
  let error: string | undefined;
  let compensationRequest: CompensationRequest | undefined;
  let compensationStarted = false;
  /** When the workflow itself last moved (an event of its own). */
  let movedAt = started.occurredAt;
  for (const entry of timeline) {
    if (WORKFLOW_EVENTS.has(entry.type) && entry.occurredAt > movedAt) movedAt = entry.occurredAt;
    const step = steps.get(text(entry, 'step') ?? '');
    const compensation = text(entry, 'phase') === 'compensation';
    switch (entry.type) {
      case 'WorkflowStepStarted': {
        if (step === undefined) break;
        step.participant = participantOf(entry) ?? step.participant;
        step.startedAt ??= entry.occurredAt;
        delete step.endedAt;
        step.status = 'active';
        step.deadlineAt = text(entry, 'deadlineAt') ?? '';
        settle(step);
        const awaits = (text(entry, 'awaits') ?? '').split(',').filter((t) => t !== '');
        if (awaits.length > 0) step.awaits = awaits;
        if (compensation) step.compensating = true;
        break;
      }
      case 'WorkflowStepSucceeded':
      case 'WorkflowStepRejected':
      case 'WorkflowStepTimedOut': {
        if (step === undefined) break;
        if (entry.type === 'WorkflowStepTimedOut' && entry.keyFields['exhausted'] !== true) break;
        const succeeded = entry.type === 'WorkflowStepSucceeded';
        step.status = succeeded ? (compensation ? 'compensated' : 'done') : 'failed';
        step.endedAt = entry.occurredAt;
        delete step.deadlineAt;
        settle(step);
        if (!succeeded) error = text(entry, 'reason') ?? `step '${step.name}' had no reply`;
        break;
      }
      case 'WorkflowCompensationStarted': {
        status = 'compensating';
        compensationStarted = true;
        const by = text(entry, 'requestedBy') ?? '';
        if (by !== '') {
          compensationRequest = { at: entry.occurredAt, by, reason: text(entry, 'reason') ?? '' };
        }
        error ??= text(entry, 'reason');
        break;
      }
      case 'WorkflowRetryRequested':
        // A compensation's step tried again, or a forward step past the workflow's pivot.
        status = compensationStarted ? 'compensating' : 'running';
        endedAt = undefined;
        break;
      case 'WorkflowCompleted':
      case 'WorkflowCompensated':
      case 'WorkflowFailed':
        status =
          entry.type === 'WorkflowCompleted'
            ? 'completed'
            : entry.type === 'WorkflowCompensated'
              ? 'compensated'
              : 'failed';
        endedAt = entry.occurredAt;
        if (entry.type === 'WorkflowFailed') error = text(entry, 'reason') ?? error;
        break;
    }
  }
  const ended = status === 'completed' || status === 'compensated' || status === 'failed';
  const stepViews = [...steps.values()].map((step): StepView => {
    // A completed workflow passed over the steps it never started (`goTo`, `complete`).
    if (status === 'completed' && step.status === 'pending') return { ...step, status: 'skipped' };
    if (!ended || step.status !== 'active') return step;
    const { deadlineAt: _d, awaits: _a, compensating: _c, ...rest } = step;
    return { ...rest, status: 'abandoned' };
  });
  // Of a parallel step's branches in flight, the one due first.
  const active = stepViews
    .filter((s) => s.status === 'active')
    .sort((a, b) => (a.deadlineAt || '~').localeCompare(b.deadlineAt || '~'))[0];
  const current = active ?? stepViews.find((s) => s.status === 'pending');
  // A step in flight must answer by its deadline; a running workflow with none in flight must
  // start its next one (its read may be failing) within a while of its last move.
  const deadlineAt =
    active?.deadlineAt !== undefined && active.deadlineAt !== ''
      ? new Date(Date.parse(active.deadlineAt) + WORKFLOW_STUCK_GRACE_MS).toISOString()
      : active === undefined && current !== undefined && status === 'running'
        ? new Date(Date.parse(movedAt) + WORKFLOW_START_GRACE_MS).toISOString()
        : undefined;
  if (!ended && deadlineAt !== undefined && deadlineAt <= now) status = 'stuck';
  const businessKey = text(started, 'businessKey');
  return {
    ...base,
    type: text(started, 'workflowType'),
    status,
    steps: stepViews,
    ...(businessKey === undefined || businessKey === '' ? {} : { businessKey }),
    ...(endedAt === undefined ? {} : { endedAt }),
    ...(ended || current === undefined ? {} : { currentStep: current.name }),
    ...(ended || deadlineAt === undefined ? {} : { deadlineAt }),
    ...(error === undefined ? {} : { error }),
    ...(compensationRequest === undefined ? {} : { compensationRequest }),
  };
}
