import { describe, expect, it } from 'vitest';
import {
  awaitedOf,
  deriveSagaView,
  isWorkflowEvent,
  WORKFLOW_START_GRACE_MS,
  WORKFLOW_STUCK_GRACE_MS,
  type TimelineEntry,
} from '../src/index.js';

const at = (second: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, second)).toISOString();
let offset = 0;
const entry = (
  type: string,
  second: number,
  keyFields: TimelineEntry['keyFields'] = {},
): TimelineEntry => ({
  eventId: `e-${(offset += 1)}`,
  type,
  participant: 'orchestrator',
  entityType: 'shop.workflow',
  entityId: 'wf-1',
  topic: 'shop.workflow.events',
  partition: 0,
  offset: String(offset),
  occurredAt: at(second),
  keyFields,
});

/** The start of a purchase workflow with the given steps. */
const startedWith = (steps: string) =>
  entry('WorkflowStarted', 0, {
    workflowType: 'purchase',
    version: 1,
    key: 'k',
    businessKey: 'p-1',
    steps,
  });
const started = startedWith('reserve,pay');
const stepStarted = (step: string, second: number, phase = 'forward') =>
  entry('WorkflowStepStarted', second, {
    step,
    phase,
    attempt: 1,
    entityType: `shop.${step}`,
    deadlineAt: at(second + 10),
  });

/** A step that waits for the signal `approval`, without a timeout. */
const signalStarted = (step: string, second: number) =>
  entry('WorkflowStepStarted', second, {
    step,
    phase: 'forward',
    attempt: 1,
    commandType: 'signal',
    entityType: '',
    entityId: 'approval',
    deadlineAt: '',
  });

const view = (entries: TimelineEntry[], nowSecond: number) =>
  deriveSagaView([], 'wf-1', entries, { now: at(nowSecond) });

describe('the view of an orchestrated workflow', () => {
  it('shows what a message of the workflow waits for, until it no longer does or the workflow moves', () => {
    const waiting = entry('SagaMessageWaiting', 3, {
      sagaId: 'wf-1',
      group: 'orchestrator.purchase.replies',
      code: 'UNKNOWN_WORKFLOW',
      reason: 'purchase version 2 is not deployed here (deployed: purchase@1)',
      messageType: 'ItemReserved',
      since: at(2),
    });
    const timeline = [started, stepStarted('reserve', 1), waiting];
    expect(view(timeline, 4).waiting).toEqual({
      group: 'orchestrator.purchase.replies',
      code: 'UNKNOWN_WORKFLOW',
      reason: 'purchase version 2 is not deployed here (deployed: purchase@1)',
      messageType: 'ItemReserved',
      since: at(2),
      service: 'orchestrator',
    });
    // A notice of another group does not end it; its own group's does.
    const other = entry('SagaMessageResumed', 4, { group: 'other', outcome: 'handled' });
    expect(view([...timeline, other], 5).waiting?.code).toBe('UNKNOWN_WORKFLOW');
    const resumed = entry('SagaMessageResumed', 4, {
      group: 'orchestrator.purchase.replies',
      outcome: 'handled',
    });
    expect(view([...timeline, resumed], 5).waiting).toBeUndefined();
    // The workflow moved on (the process that waited may have died without a word).
    expect(view([...timeline, stepStarted('pay', 5)], 6).waiting).toBeUndefined();
  });

  it('shows the steps a completed workflow passed over as skipped', () => {
    const reserved = entry('WorkflowStepSucceeded', 2, {
      step: 'reserve',
      phase: 'forward',
      attempt: 1,
    });
    const completed = entry('WorkflowCompleted', 3, { workflowType: 'purchase' });
    const ended = view([started, stepStarted('reserve', 1), reserved, completed], 4);
    expect(ended.status).toBe('completed');
    expect(ended.steps.map((s) => [s.name, s.status])).toEqual([
      ['reserve', 'done'],
      ['pay', 'skipped'],
    ]);
  });

  it("shows a parallel step's branches side by side, stuck by the first deadline passed", () => {
    const parallel = startedWith('hold/reserve,hold/pay,ship');
    const pay = {
      ...stepStarted('pay', 1),
      keyFields: { ...stepStarted('pay', 1).keyFields, deadlineAt: at(5) },
    };
    const running = view([parallel, stepStarted('reserve', 1), pay], 2);
    expect(running.steps).toEqual([
      {
        name: 'reserve',
        parallel: 'hold',
        participant: 'shop.reserve',
        status: 'active',
        startedAt: at(1),
        deadlineAt: at(11),
      },
      {
        name: 'pay',
        parallel: 'hold',
        participant: 'shop.pay',
        status: 'active',
        startedAt: at(1),
        deadlineAt: at(5),
      },
      { name: 'ship', participant: '', status: 'pending' },
    ]);
    expect(running).toMatchObject({ status: 'running', currentStep: 'pay' });
    // The branch due first decides when the workflow counts as stuck.
    const stuckAt = Date.parse(at(5)) + WORKFLOW_STUCK_GRACE_MS;
    expect(
      view([parallel, stepStarted('reserve', 1), pay], (stuckAt - Date.parse(at(0))) / 1000).status,
    ).toBe('stuck');
    const payDone = entry('WorkflowStepSucceeded', 3, {
      step: 'pay',
      phase: 'forward',
      attempt: 1,
    });
    expect(view([parallel, stepStarted('reserve', 1), pay, payDone], 4)).toMatchObject({
      currentStep: 'reserve',
      steps: [{ status: 'active' }, { name: 'pay', status: 'done' }, { status: 'pending' }],
    });
  });

  it('shows the replies a step in flight waits for, and whether it is its compensation', () => {
    const reserve = (second: number, phase: string, awaits: string) => ({
      ...stepStarted('reserve', second, phase),
      keyFields: { ...stepStarted('reserve', second, phase).keyFields, awaits },
    });
    const asked = reserve(1, 'forward', 'ItemReserved,CommandAccepted,CommandRejected');
    expect(view([started, asked], 2).steps[0]).toEqual({
      name: 'reserve',
      participant: 'shop.reserve',
      status: 'active',
      startedAt: at(1),
      deadlineAt: at(11),
      awaits: ['ItemReserved', 'CommandAccepted', 'CommandRejected'],
    });
    // Answered: it waits for nothing.
    const reserved = entry('WorkflowStepSucceeded', 2, {
      step: 'reserve',
      phase: 'forward',
      attempt: 1,
    });
    expect(view([started, asked, reserved], 3).steps[0]).not.toHaveProperty('awaits');
    // Its compensation in flight waits for any reply (a compensation lists none).
    const refused = entry('WorkflowStepRejected', 4, {
      step: 'pay',
      phase: 'forward',
      attempt: 1,
      reason: 'insufficient funds',
    });
    const compensating = entry('WorkflowCompensationStarted', 4, { reason: 'insufficient funds' });
    const undo = reserve(5, 'compensation', '');
    const undoing = view(
      [started, asked, reserved, stepStarted('pay', 3), refused, compensating, undo],
      6,
    );
    expect(undoing.status).toBe('compensating');
    expect(undoing.steps[0]).toMatchObject({ status: 'active', compensating: true });
    expect(undoing.steps[0]).not.toHaveProperty('awaits');
    // A workflow that ends with a step in flight leaves it abandoned, waiting for nothing.
    const cancelled = entry('WorkflowCompensated', 7, {});
    expect(
      view(
        [started, asked, reserved, stepStarted('pay', 3), refused, compensating, undo, cancelled],
        8,
      ).steps[0],
    ).toEqual({
      name: 'reserve',
      participant: 'shop.reserve',
      status: 'abandoned',
      startedAt: at(1),
    });
  });

  it('says what it waits for: a reply, a signal, a sleep, a compensation; nothing once ended', () => {
    const replies = {
      ...stepStarted('reserve', 1),
      keyFields: { ...stepStarted('reserve', 1).keyFields, awaits: 'ItemReserved,CommandRejected' },
    };
    expect(awaitedOf(view([started, replies], 2))).toEqual([
      {
        step: 'reserve',
        kind: 'answer',
        events: ['ItemReserved', 'CommandRejected'],
        participant: 'shop.reserve',
        since: at(1),
        until: at(11),
      },
    ]);
    const signal = signalStarted('pay', 3);
    const reserved = entry('WorkflowStepSucceeded', 2, { step: 'reserve', phase: 'forward' });
    expect(awaitedOf(view([started, replies, reserved, signal], 4))).toEqual([
      {
        step: 'pay',
        kind: 'signal',
        signal: 'approval',
        participant: 'signal approval',
        since: at(3),
      },
    ]);
    const refused = entry('WorkflowStepRejected', 5, {
      step: 'pay',
      phase: 'forward',
      reason: 'no',
    });
    const compensating = entry('WorkflowCompensationStarted', 5, { reason: 'no' });
    const undo = stepStarted('reserve', 6, 'compensation');
    expect(
      awaitedOf(view([started, replies, reserved, signal, refused, compensating, undo], 7)),
    ).toEqual([
      {
        step: 'reserve',
        kind: 'compensation',
        participant: 'shop.reserve',
        since: at(5),
        until: at(16),
      },
    ]);
    const ended = entry('WorkflowCompensated', 8, {});
    expect(
      awaitedOf(view([started, replies, reserved, signal, refused, compensating, undo, ended], 9)),
    ).toEqual([]);
  });

  it('shows its steps from its events, with the orchestrator as the clock of deadlines', () => {
    const running = view([started, stepStarted('reserve', 1)], 2);
    expect(running).toMatchObject({
      type: 'purchase',
      businessKey: 'p-1',
      status: 'running',
      currentStep: 'reserve',
      steps: [
        { name: 'reserve', participant: 'shop.reserve', status: 'active', deadlineAt: at(11) },
        { name: 'pay', status: 'pending' },
      ],
    });
    // Stuck only once the orchestrator let the deadline pass by the grace period.
    const graceSeconds = WORKFLOW_STUCK_GRACE_MS / 1000;
    expect(view([started, stepStarted('reserve', 1)], 11 + graceSeconds - 1).status).toBe(
      'running',
    );
    expect(view([started, stepStarted('reserve', 1)], 11 + graceSeconds).status).toBe('stuck');
  });

  it('is stuck when it has not started its next step a minute after it last moved (a read that keeps failing)', () => {
    const grace = WORKFLOW_START_GRACE_MS / 1000;
    // Started, its first step waiting for its view to be read.
    expect(view([started], grace - 1)).toMatchObject({
      status: 'running',
      currentStep: 'reserve',
      deadlineAt: at(grace),
    });
    expect(view([started], grace).status).toBe('stuck');
    // It moves again: running, with the step's own deadline.
    expect(view([started, stepStarted('reserve', grace + 1)], grace + 2)).toMatchObject({
      status: 'running',
      deadlineAt: at(grace + 11 + WORKFLOW_STUCK_GRACE_MS / 1000),
    });
  });

  it('runs forward again when an operator retries a step past its pivot', () => {
    const failed = [
      started,
      stepStarted('reserve', 1),
      entry('WorkflowStepSucceeded', 2, { step: 'reserve', phase: 'forward', attempt: 1 }),
      stepStarted('pay', 2),
      entry('WorkflowFailed', 40, { step: 'pay', reason: "step 'pay' had no reply" }),
    ];
    expect(view(failed, 41).status).toBe('failed');
    const retried = [
      ...failed,
      entry('WorkflowRetryRequested', 50, { step: 'pay', requestedBy: 'ops', reason: 'back' }),
      stepStarted('pay', 50),
    ];
    expect(view(retried, 51)).toMatchObject({ status: 'running', currentStep: 'pay' });
  });

  it('ends compensated with the steps undone, or failed naming why', () => {
    const base = [
      started,
      stepStarted('reserve', 1),
      entry('WorkflowStepSucceeded', 2, { step: 'reserve', phase: 'forward' }),
      stepStarted('pay', 3),
      entry('WorkflowStepRejected', 4, { step: 'pay', phase: 'forward', reason: 'no funds' }),
      entry('WorkflowCompensationStarted', 4, { reason: 'no funds', requestedBy: '' }),
      stepStarted('reserve', 5, 'compensation'),
    ];
    expect(view(base, 6)).toMatchObject({ status: 'compensating', error: 'no funds' });
    const compensated = view(
      [
        ...base,
        entry('WorkflowStepSucceeded', 6, { step: 'reserve', phase: 'compensation' }),
        entry('WorkflowCompensated', 6, { reason: 'no funds' }),
      ],
      7,
    );
    expect(compensated).toMatchObject({
      status: 'compensated',
      endedAt: at(6),
      steps: [
        { name: 'reserve', status: 'compensated' },
        { name: 'pay', status: 'failed' },
      ],
    });
    expect(compensated.compensationRequest).toBeUndefined();
    const failed = view(
      [
        ...base,
        entry('WorkflowStepTimedOut', 16, {
          step: 'reserve',
          phase: 'compensation',
          exhausted: true,
        }),
        entry('WorkflowFailed', 16, { step: 'reserve', reason: "step 'reserve' had no reply" }),
      ],
      17,
    );
    expect(failed).toMatchObject({ status: 'failed', error: "step 'reserve' had no reply" });
    expect(failed.steps[0]!.status).toBe('failed');
  });

  it('shows an operator cancel as a compensation request', () => {
    const cancelled = view(
      [
        started,
        stepStarted('reserve', 1),
        entry('WorkflowCompensationStarted', 2, { reason: 'customer called', requestedBy: 'ops' }),
      ],
      3,
    );
    expect(cancelled).toMatchObject({
      status: 'compensating',
      compensationRequest: { by: 'ops', reason: 'customer called', at: at(2) },
    });
  });

  it('recognizes replies to workflow commands by their causation id', () => {
    const workflowId = `wf-${'a'.repeat(32)}`;
    expect(
      isWorkflowEvent({
        type: 'ItemReserved',
        sagaId: workflowId,
        causationId: `${workflowId}:s0.1`,
      }),
    ).toBe(true);
    expect(
      isWorkflowEvent({ type: 'ItemReserved', sagaId: 'other', causationId: `${workflowId}:s0.1` }),
    ).toBe(false);
    expect(isWorkflowEvent({ type: 'ItemReserved', sagaId: workflowId, causationId: 'x' })).toBe(
      false,
    );
  });

  it('shows what a sleep or a signal step waits on, and until when', () => {
    const waits = startedWith('nap,approval');
    const nap = entry('WorkflowStepStarted', 1, {
      step: 'nap',
      phase: 'forward',
      attempt: 1,
      commandType: 'sleep',
      entityType: '',
      entityId: '',
      deadlineAt: at(30),
    });
    const woke = entry('WorkflowStepSucceeded', 30, {
      step: 'nap',
      phase: 'forward',
      attempt: 1,
      replyType: 'woke',
    });
    const approval = signalStarted('approval', 31);
    expect(view([waits, nap], 2).steps[0]).toMatchObject({
      name: 'nap',
      participant: 'sleep',
      status: 'active',
      deadlineAt: at(30),
    });
    // Waiting for a signal without a timeout is not stuck, however long it waits.
    const waiting = view([waits, nap, woke, approval], 3600);
    expect(waiting.status).toBe('running');
    expect(waiting.steps.map((s) => [s.name, s.participant, s.status])).toEqual([
      ['nap', 'sleep', 'done'],
      ['approval', 'signal approval', 'active'],
    ]);
  });
});
