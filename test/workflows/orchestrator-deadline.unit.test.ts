import { defineWorkflow, type WorkflowDefinition } from '@sagaflow/core';
import { waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { purchaseInput, type purchaseFlow, type PurchaseInput } from '../fixtures/purchase-flow.js';
import {
  holdFundsStep,
  purchaseOrchestration,
  reserveItemStep,
  workflowEnded,
} from '../fixtures/purchase-participants.js';
import { stopAfterEach } from '../fixtures/stop-after-each.js';

const started = stopAfterEach();

async function setup(
  workflows: (flow: ReturnType<typeof purchaseFlow>) => WorkflowDefinition<PurchaseInput>[],
) {
  const { build, timers, stock } = await purchaseOrchestration('deadlines', workflows, started);
  const orchestrator = build();
  await orchestrator.start();
  started.push(orchestrator);
  return { orchestrator, timers, stock };
}

describe("A workflow's deadline", () => {
  it('compensates a workflow still running when it passes, and changes nothing of one that ended', async () => {
    const { orchestrator, timers, stock } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'waits-for-ever',
        deadlineMs: 600,
        signals: { go: null },
        steps: [reserveItemStep(flow), { name: 'wait', signal: 'go' }, holdFundsStep(flow)],
      }),
      defineWorkflow<PurchaseInput>({
        type: 'quick',
        deadlineMs: ({ quantity }) => quantity * 400,
        steps: [reserveItemStep(flow), holdFundsStep(flow)],
      }),
    ]);
    const slow = await orchestrator.startWorkflow('waits-for-ever', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const quick = await orchestrator.startWorkflow('quick', {
      key: 'p-2',
      input: purchaseInput(2, { quantity: 2 }),
    });
    const done = await workflowEnded(orchestrator, quick.workflowId);
    expect(done.status).toBe('completed');
    const compensated = await workflowEnded(orchestrator, slow.workflowId);
    expect(compensated).toMatchObject({
      status: 'compensated',
      reason: `the workflow's deadline passed (${compensated.deadline!.dueAt})`,
    });
    expect(Date.parse(compensated.deadline!.dueAt) - Date.parse(compensated.startedAt!)).toBe(600);
    expect((await stock())?.reserved).toEqual({ 'p-2': 2 });
    // The quick one's deadline fires too, and changes nothing.
    await waitFor(async () => (await timers.next('sagaflow.workflow')) === undefined, {
      timeoutMs: 5000,
      description: 'every deadline fired',
    });
    expect(await orchestrator.get(quick.workflowId)).toEqual(done);
  });

  it('changes nothing once the pivot was sent: the workflow only goes forward', async () => {
    const { orchestrator, timers } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'past-the-pivot',
        deadlineMs: 300,
        signals: { go: null },
        steps: [
          reserveItemStep(flow),
          { ...holdFundsStep(flow), pivot: true },
          { name: 'wait', signal: 'go' },
        ],
      }),
    ]);
    const { workflowId } = await orchestrator.startWorkflow('past-the-pivot', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waitFor(async () => (await timers.next('sagaflow.workflow')) === undefined, {
      timeoutMs: 5000,
      description: 'the deadline fired',
    });
    expect(await orchestrator.get(workflowId)).toMatchObject({
      status: 'running',
      current: { step: 'wait' },
    });
    await orchestrator.signal(workflowId, 'go', {});
    expect((await workflowEnded(orchestrator, workflowId)).status).toBe('completed');
  });

  it('refuses a deadline that is not one, naming it', () => {
    expect(() =>
      defineWorkflow({ type: 'bad', deadlineMs: -5, steps: [{ name: 'nap', sleep: 1 }] }),
    ).toThrow(/^deadlineMs must be a number of milliseconds from 0 to/);
  });
});
