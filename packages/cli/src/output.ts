import { awaitedOf, type AwaitedAnswer } from '@sagaflow/core';

/** Columns padded to their widest cell; a header line first. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '(none)\n';
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

interface ViewForTimeline {
  sagaId: string;
  type?: string;
  status: string;
  businessKey?: string;
  startedAt: string;
  endedAt?: string;
  error?: string;
  steps: {
    name: string;
    /** The parallel step the step is a branch of. */
    parallel?: string;
    participant: string;
    status: string;
    startedAt?: string;
    endedAt?: string;
    /** Until when an active step waits (its reply's deadline, a sleep's wake-up). */
    deadlineAt?: string;
    /** The event types it waits for (see the core's `StepView.awaits`). */
    awaits?: readonly string[];
    /** True while a workflow step's compensation is in flight. */
    compensating?: boolean;
  }[];
  timeline: {
    occurredAt: string;
    type: string;
    participant: string;
    topic: string;
    partition: number;
    offset: string;
  }[];
}

/**
 * What a step waits for, as the core works it out ({@link awaitedOf}): its events, any reply (a
 * command or a compensation that lists none), nothing for a sleep or a signal (its participant
 * says it); a choreography step done says its compensation is awaited.
 */
function awaitedBy(step: ViewForTimeline['steps'][number], awaited: AwaitedAnswer | undefined) {
  if (awaited === undefined || awaited.kind === 'sleep' || awaited.kind === 'signal') return '';
  const what = awaited.events === undefined ? 'any reply' : awaited.events.join(' | ');
  return step.status === 'done' ? `compensation: ${what}` : what;
}

/** A saga in the terminal: its header, its steps, then its events in time order. */
export function timeline(view: ViewForTimeline): string {
  const start = Date.parse(view.startedAt);
  const since = (at: string) => `+${Math.max(0, Date.parse(at) - start)} ms`;
  const header = [
    `${view.sagaId}  ${view.type ?? '(type unknown)'}  ${view.status.toUpperCase()}`,
    ...(view.businessKey === undefined ? [] : [`key: ${view.businessKey}`]),
    `started ${view.startedAt}${view.endedAt === undefined ? '' : `, ended ${view.endedAt} (${since(view.endedAt)})`}`,
    ...(view.error === undefined ? [] : [`error: ${view.error}`]),
    '',
  ].join('\n');
  const awaiting = awaitedOf(view);
  // A sleep's participant is `sleep`, a signal wait's `signal <name>`: UNTIL says how long.
  const steps = table(
    ['STEP', 'PARTICIPANT', 'STATUS', 'UNTIL', 'AWAITS'],
    // A branch of a parallel step shows as `<step> ∥ <branch>`.
    view.steps.map((s) => [
      s.parallel === undefined ? s.name : `${s.parallel} ∥ ${s.name}`,
      s.participant,
      s.compensating === true ? `${s.status} (compensation)` : s.status,
      s.status === 'active' && s.deadlineAt !== undefined && s.deadlineAt !== ''
        ? s.deadlineAt
        : '',
      awaitedBy(
        s,
        awaiting.find((a) => a.step === s.name && a.parallel === s.parallel),
      ),
    ]),
  );
  const events = table(
    ['AT', 'EVENT', 'BY', 'WHERE'],
    view.timeline.map((e) => [
      since(e.occurredAt),
      e.type,
      e.participant,
      `${e.topic}[${e.partition}]@${e.offset}`,
    ]),
  );
  return `${header}\n${steps}\n${events}`;
}
