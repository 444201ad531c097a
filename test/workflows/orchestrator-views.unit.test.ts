import {
  defineView,
  defineWorkflow,
  done,
  eventsTopic,
  Orchestrator,
  type ViewReader,
} from '@sagaflow/core';
import { MemoryEntityStore, MemoryTimerStore, MemoryViewStore, waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { purchaseInput, type PurchaseInput } from '../fixtures/purchase-flow.js';
import { startPurchaseParticipants } from '../fixtures/purchase-participants.js';
import { stopAfterEach } from '../fixtures/stop-after-each.js';

const started = stopAfterEach();

interface Funds {
  readonly customerId: string;
  readonly deposited: number;
}

describe('A workflow step that reads a view of its orchestrator', () => {
  it('reads it locally, the view built from a participant’s events, and keeps what it read', async () => {
    const { flow, bus, serde, participants, deposit } = await startPurchaseParticipants(
      'viewshop',
      { deposit: 70 },
    );
    started.push(participants);
    const depositId = deposit.status === 'committed' ? deposit.events[0]!.eventId : '';
    // The funds each customer deposited, from the wallets' events: the orchestrator's own view.
    const funds = defineView<Funds>({
      name: 'funds',
      topics: [eventsTopic(flow.wallet.type)],
      key: (event) => (event.type === 'FundsDeposited' ? event.entityId : undefined),
      initial: (customerId) => ({ customerId, deposited: 0 }),
      apply: (doc, event) => ({
        ...doc,
        deposited: doc.deposited + Number(event.payload['amount']),
      }),
    });
    const holdWhatWasDeposited = defineWorkflow<PurchaseInput>({
      type: 'hold-deposit',
      steps: [
        {
          name: 'hold',
          entity: flow.wallet.type,
          // Waits until the view has the deposit: read-your-writes across services.
          read: ({ input }, views) =>
            (views['funds'] as ViewReader<Funds>).get(input.customerId, { after: depositId }),
          command: ({ input, view }) => ({
            entityId: input.customerId,
            type: 'HoldFunds',
            payload: { purchaseId: input.purchaseId, amount: (view as Funds).deposited },
          }),
          replies: { FundsHeld: done() },
        },
      ],
    });
    const orchestrator = new Orchestrator({
      name: 'orchestrator',
      store: new MemoryEntityStore(),
      timers: new MemoryTimerStore(),
      bus: bus.client(),
      serde,
      workflows: [holdWhatWasDeposited],
      views: [funds],
      viewStore: new MemoryViewStore(),
      timerIntervalMs: 10,
    });
    await orchestrator.start();
    started.push(orchestrator);
    const { workflowId } = await orchestrator.startWorkflow('hold-deposit', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const ended = await waitFor(
      async () => {
        const state = await orchestrator.get(workflowId);
        return state?.status === 'completed' ? state : undefined;
      },
      { timeoutMs: 10_000, description: 'the workflow completed' },
    );
    expect(ended.views).toEqual({ hold: { value: { customerId: 'ann', deposited: 70 } } });
    const wallet = await participants.commands.load(flow.wallet, 'ann');
    expect(wallet.state).toMatchObject({ balance: 0, held: { 'p-1': 70 } });
    expect(() => orchestrator.service.view('prices')).toThrow(
      /^name names no view here \(got 'prices'; views: funds\)/,
    );
  });
});
