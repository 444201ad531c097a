import {
  defineWorkflow,
  done,
  parseWorkflowCommandId,
  workflowCommandId,
  type WorkflowDefinition,
  type WorkflowStep,
} from '@sagaflow/core';
import { waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { purchaseInput, type purchaseFlow, type PurchaseInput } from '../fixtures/purchase-flow.js';
import {
  holdAmountStep,
  purchaseOrchestration,
  shipStep,
  reserveItemStep,
  workflowEnded,
} from '../fixtures/purchase-participants.js';
import { stopAfterEach } from '../fixtures/stop-after-each.js';

const started = stopAfterEach();

type Flow = ReturnType<typeof purchaseFlow>;

async function setup(workflows: (flow: Flow) => WorkflowDefinition<PurchaseInput>[]) {
  const orchestration = await purchaseOrchestration('parallel', workflows, started);
  const orchestrator = orchestration.build();
  await orchestrator.start();
  started.push(orchestrator);
  const history = (workflowId: string) => orchestration.store.historyOf(workflowId);
  return { ...orchestration, orchestrator, history };
}

/** A step that commands an entity type nobody takes commands of: no reply ever comes. */
const silentStep = (flow: Flow): WorkflowStep<PurchaseInput> => ({
  ...shipStep(flow, 'silent'),
  entity: `${flow.parcel.type}-nobody`,
});

describe('Parallel steps', () => {
  it('start their branches together and join when all are done; the results are kept by branch', async () => {
    const { orchestrator, stock, wallet, history } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'side-by-side',
        steps: [
          {
            name: 'hold',
            parallel: [
              { ...reserveItemStep(flow), replies: { ItemReserved: done({ reserved: true }) } },
              holdAmountStep(flow, 30),
            ],
          },
          shipStep(flow),
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('side-by-side', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const ended = await workflowEnded(orchestrator, workflowId);
    expect(ended.status).toBe('completed');
    expect(ended.completed).toEqual(
      expect.arrayContaining(['reserve-item', 'hold-funds', 'hold', 'ship-parcel']),
    );
    expect(ended.completed.indexOf('hold')).toBe(2);
    expect(ended.results['hold']).toEqual({
      'reserve-item': { reserved: true },
      'hold-funds': ended.results['hold-funds'],
    });
    expect(ended.branches).toBeUndefined();
    expect((await stock())?.reserved).toEqual({ 'p-1': 1 });
    expect((await wallet())?.held).toEqual({ 'p-1': 30 });
    // Both commands went out in one commit, before either reply.
    const events = history(workflowId).events;
    expect(events.slice(0, 3)).toEqual([
      'WorkflowStarted',
      'WorkflowStepStarted reserve-item',
      'WorkflowStepStarted hold-funds',
    ]);
    expect(
      history(workflowId)
        .commands.map((c) => c.commandId)
        .slice(0, 2),
    ).toEqual([
      workflowCommandId(workflowId, 'forward', 0, 1, 0),
      workflowCommandId(workflowId, 'forward', 0, 1, 1),
    ]);
  });

  it('compensate the branches done when one refuses, and the steps before, last first', async () => {
    const { orchestrator, stock, wallet, history } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'one-refuses',
        steps: [
          reserveItemStep(flow),
          { name: 'pay-and-ship', parallel: [holdAmountStep(flow, 30), shipStep(flow)] },
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('one-refuses', {
      key: 'p-1',
      input: purchaseInput(1, { address: '' }),
    });
    const ended = await workflowEnded(orchestrator, workflowId);
    expect(ended).toMatchObject({ status: 'compensated', reason: 'no address to ship to' });
    expect((await stock())?.reserved).toEqual({});
    expect((await wallet())?.held).toEqual({});
    expect((await wallet())?.holds).toBe(1);
    const events = history(workflowId).events;
    expect(events.filter((e) => e.startsWith('WorkflowStepRejected'))).toEqual([
      'WorkflowStepRejected ship-parcel',
    ]);
    // The refused branch is not compensated; the one done is, then the step before.
    const compensations = history(workflowId)
      .commands.filter((c) => parseWorkflowCommandId(c.commandId)?.phase === 'compensation')
      .map((c) => c.type);
    expect(compensations).toEqual(['ReleaseFunds', 'ReleaseItem']);
    // What each command waited for, as the admin shows it: the replies a step lists and the
    // entity's own, or any reply (a step that lists none, a compensation).
    expect(history(workflowId).started).toEqual([
      ['reserve-item forward', 'ItemReserved,CommandAccepted,CommandRejected'],
      ['hold-funds forward', 'FundsHeld,FundsRefused,CommandAccepted,CommandRejected'],
      ['ship-parcel forward', ''],
      ['hold-funds compensation', ''],
      ['reserve-item compensation', ''],
    ]);
  });

  it('wait for a branch in flight when another refuses, and compensate it once it is done', async () => {
    const { orchestrator, wallet, history } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'refused-first',
        steps: [
          {
            name: 'both',
            parallel: [
              // Refused at once by its own code: the other branch's command is already out.
              {
                ...shipStep(flow, 'refuses'),
                command: () => {
                  throw new Error('no carrier');
                },
              },
              holdAmountStep(flow, 30),
            ],
          },
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('refused-first', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const ended = await workflowEnded(orchestrator, workflowId);
    expect(ended).toMatchObject({
      status: 'compensated',
      reason: "the command of step 'refuses' threw: no carrier",
    });
    expect((await wallet())?.held).toEqual({});
    expect((await wallet())?.holds).toBe(1);
    const events = history(workflowId).events;
    expect(events.indexOf('WorkflowStepSucceeded hold-funds')).toBeLessThan(
      events.indexOf('WorkflowCompensationStarted'),
    );
  });

  it('time out and retry each branch on its own; one without a reply is compensated too', async () => {
    const { orchestrator, wallet, history } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'one-silent',
        steps: [
          {
            name: 'both',
            parallel: [
              holdAmountStep(flow, 30),
              { ...silentStep(flow), timeoutMs: 150, retry: { maxAttempts: 2, delayMs: 100 } },
            ],
          },
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('one-silent', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const ended = await workflowEnded(orchestrator, workflowId);
    expect(ended).toMatchObject({
      status: 'compensated',
      reason: "step 'silent' had no reply after 2 attempt(s)",
    });
    expect((await wallet())?.held).toEqual({});
    const events = history(workflowId).events;
    expect(events.filter((e) => e.endsWith(' silent'))).toEqual([
      'WorkflowStepStarted silent',
      'WorkflowStepTimedOut silent',
      'WorkflowStepStarted silent',
      'WorkflowStepTimedOut silent',
    ]);
    const sent = history(workflowId).commands;
    expect(sent.map((c) => c.commandId)).toContain(
      workflowCommandId(workflowId, 'forward', 0, 2, 1),
    );
  });

  it('past the pivot, fail on a refusal; a retry by an operator sends again only the branches not done', async () => {
    const { orchestrator, wallet, stock, history } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'after-pivot',
        steps: [
          { ...shipStep(flow), pivot: true },
          {
            name: 'settle',
            parallel: [
              reserveItemStep(flow),
              { ...holdAmountStep(flow, 150), timeoutMs: 300, retry: { maxAttempts: 1 } },
            ],
          },
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('after-pivot', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const failed = await workflowEnded(orchestrator, workflowId);
    expect(failed).toMatchObject({
      status: 'failed',
      error: 'insufficient funds',
      current: { step: 'settle' },
    });
    expect((await stock())?.reserved).toEqual({ 'p-1': 1 });
    // The retry sends the branch not done again (attempt 2). The wallet applies a step's command
    // once and sends the first reply again, which the workflow has: no new reply, so the branch
    // times out and the workflow fails again.
    const retrying = await orchestrator.retry(workflowId, { requestedBy: 'ops', reason: 'again' });
    expect(retrying.status).toBe('running');
    expect(await workflowEnded(orchestrator, workflowId)).toMatchObject({
      status: 'failed',
      error: "step 'hold-funds' had no reply after 2 attempt(s)",
      branches: { 'reserve-item': { status: 'done' }, 'hold-funds': { attempt: 2 } },
    });
    expect((await stock())?.reservations).toBe(1);
    expect((await wallet())?.holds).toBe(0);
    const sent = history(workflowId).commands.map((c) => c.commandId);
    expect(sent.slice(1)).toEqual([
      workflowCommandId(workflowId, 'forward', 1, 1, 0),
      workflowCommandId(workflowId, 'forward', 1, 1, 1),
      workflowCommandId(workflowId, 'forward', 1, 2, 1),
    ]);
  });

  it('are compensated branch by branch when an operator cancels, those in flight too', async () => {
    const { orchestrator, stock } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'cancelled',
        steps: [
          {
            name: 'both',
            parallel: [reserveItemStep(flow), { ...silentStep(flow), timeoutMs: 60_000 }],
          },
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('cancelled', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waitFor(
      async () =>
        (await orchestrator.get(workflowId))?.branches?.['reserve-item']?.status === 'done',
      { timeoutMs: 10_000, description: 'reserve-item done' },
    );
    await orchestrator.cancel(workflowId, { requestedBy: 'ops', reason: 'changed my mind' });
    const ended = await workflowEnded(orchestrator, workflowId);
    expect(ended).toMatchObject({ status: 'compensated', reason: 'changed my mind' });
    expect((await stock())?.reserved).toEqual({});
  });

  it('refuse definitions that are not groups of command steps, naming the field', () => {
    const ship = {
      name: 'ship',
      entity: 'shop.parcel',
      command: () => ({ entityId: 'x', type: 'Ship', payload: {} }),
    };
    const bad = (steps: WorkflowStep[]) => () => defineWorkflow({ type: 'bad', steps });
    expect(bad([{ name: 'g', parallel: [ship] }])).toThrow(
      /^steps\[0\]\.parallel must list two branches or more/,
    );
    expect(bad([{ name: 'g', parallel: [ship, { ...ship, name: 'nap', sleep: 5 }] }])).toThrow(
      /^steps\[0\]\.parallel\[1\]\.sleep has no place in a branch/,
    );
    expect(bad([{ name: 'g', parallel: [ship, { ...ship, name: 'p', pivot: true }] }])).toThrow(
      /^steps\[0\]\.parallel\[1\]\.pivot has no place in a branch/,
    );
    expect(bad([ship, { name: 'g', parallel: [{ ...ship, name: 'a' }, ship] }])).toThrow(
      /^steps\[1\]\.parallel\[1\]\.name repeats 'ship'/,
    );
    expect(
      bad([{ name: 'g', entity: 'shop.parcel', parallel: [{ ...ship, name: 'a' }, ship] }]),
    ).toThrow(/^steps\[0\]\.entity has no place in a parallel step/);
    expect(
      bad([
        {
          name: 'g',
          parallel: [
            { ...ship, name: 'a' },
            { ...ship, entity: 'nope' },
          ],
        },
      ]),
    ).toThrow(/^steps\[0\]\.parallel\[1\]\.entity must be an entity type/);
  });

  it("name a branch's commands by its step, its branch and the attempt", () => {
    const id = workflowCommandId(`wf-${'a'.repeat(32)}`, 'forward', 3, 2, 1);
    expect(id).toBe(`wf-${'a'.repeat(32)}:s3b1.2`);
    expect(parseWorkflowCommandId(id)).toEqual({
      workflowId: `wf-${'a'.repeat(32)}`,
      phase: 'forward',
      stepIndex: 3,
      branch: 1,
      attempt: 2,
    });
  });
});
