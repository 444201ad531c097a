import type { Orchestrator } from '@sagaflow/core';
import { defineWorkflow, type WorkflowDefinition, type WorkflowStep } from '@sagaflow/core';
import { waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { type purchaseFlow, purchaseInput, type PurchaseInput } from '../fixtures/purchase-flow.js';
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
  const { build, timers, stock } = await purchaseOrchestration('sleepy', workflows, started);
  const ended = (workflowId: string, orchestrator: Orchestrator) =>
    workflowEnded(orchestrator, workflowId);
  return { build, ended, stock, timers };
}

describe('A sleep step', () => {
  it('waits its time, durably across a restart of the orchestrator, then goes on', async () => {
    const { build, ended, timers } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'reserve-sleep-hold',
        steps: [
          reserveItemStep(flow),
          { name: 'cool-off', sleep: ({ input }) => input.quantity * 400 },
          holdFundsStep(flow),
        ],
      }),
    ]);
    const first = build();
    await first.start();
    const startedAt = Date.now();
    const { workflowId } = await first.startWorkflow('reserve-sleep-hold', {
      key: 'p-1',
      input: purchaseInput(1, { quantity: 2 }),
    });
    const sleeping = await waitFor(
      async () => {
        const state = await first.get(workflowId);
        return state?.current?.step === 'cool-off' ? state : undefined;
      },
      { timeoutMs: 5000, description: 'the workflow sleeping' },
    );
    expect(sleeping.timer).toMatchObject({ kind: 'sleep' });
    const wakeAt = Date.parse(sleeping.timer!.dueAt);
    expect(wakeAt - startedAt).toBeGreaterThanOrEqual(800);
    expect(await timers.next('sagaflow.workflow')).toMatchObject({
      workflowId,
      dueAt: sleeping.timer!.dueAt,
    });
    // The orchestrator stops while the workflow sleeps; a new one finds the timer in the store.
    await first.stop();
    const second = build();
    await second.start();
    started.push(second);
    const state = await ended(workflowId, second);
    const endedAt = Date.now();
    expect(state.status).toBe('completed');
    expect(state.completed).toEqual(['reserve-item', 'cool-off', 'hold-funds']);
    expect(endedAt).toBeGreaterThanOrEqual(wakeAt);
    // On time: the loop looks at the store every second, and the new process's alarm rings at the due time.
    expect(endedAt - wakeAt).toBeLessThan(3000);
  });

  it('wakes at once for a time passed, and compensates when its time cannot be told', async () => {
    const { build, ended, stock } = await setup((flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'sleep-until-past',
        steps: [
          reserveItemStep(flow),
          { name: 'until', sleepUntil: () => new Date(Date.now() - 60_000) },
          holdFundsStep(flow),
        ],
      }),
      defineWorkflow<PurchaseInput>({
        type: 'sleep-nonsense',
        steps: [
          reserveItemStep(flow),
          { name: 'until', sleepUntil: () => 'next tuesday' },
          holdFundsStep(flow),
        ],
      }),
    ]);
    const orchestrator = build();
    await orchestrator.start();
    started.push(orchestrator);
    const past = await orchestrator.startWorkflow('sleep-until-past', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    expect((await ended(past.workflowId, orchestrator)).status).toBe('completed');
    const nonsense = await orchestrator.startWorkflow('sleep-nonsense', {
      key: 'p-2',
      input: purchaseInput(2),
    });
    const compensated = await ended(nonsense.workflowId, orchestrator);
    expect(compensated).toMatchObject({
      status: 'compensated',
      reason: `the sleep of step 'until' threw: sleepUntil gave no time (got "next tuesday")`,
    });
    expect((await stock())?.reserved).toEqual({ 'p-1': 1 });
  });

  it('refuses a sleep step that is not one, naming the field', () => {
    const base = { type: 'bad-sleep', steps: [] as WorkflowStep<PurchaseInput>[] };
    const cases: [WorkflowStep<PurchaseInput>, RegExp][] = [
      [{ name: 'nap', sleep: -1 }, /^steps\[0\]\.sleep must be a number of milliseconds from 0 to/],
      [{ name: 'nap', sleep: Number.NaN }, /^steps\[0\]\.sleep must be a number of milliseconds/],
      [
        { name: 'nap', sleep: 10, sleepUntil: () => new Date() },
        /^steps\[0\]\.sleep and sleepUntil exclude each other/,
      ],
      [
        { name: 'nap', sleep: 10, entity: 'shop.stock' },
        /^steps\[0\]\.entity has no place in a sleep step/,
      ],
      [
        { name: 'nap', sleep: 10, timeoutMs: 5 },
        /^steps\[0\]\.timeoutMs has no place in a sleep step/,
      ],
      [
        { name: 'nap', sleepUntil: 'tomorrow' as never },
        /^steps\[0\]\.sleepUntil must be a function/,
      ],
      [
        { name: 'nap', entity: 'shop.stock' },
        /^steps\[0\]\.command must be a function \(context\) => command \(or give the step sleep or sleepUntil\)/,
      ],
    ];
    for (const [step, message] of cases) {
      expect(() => defineWorkflow({ ...base, steps: [step] })).toThrow(message);
    }
  });
});
