import {
  defineWorkflow,
  Orchestrator,
  SagaflowService,
  workflowIdOf,
  type OrchestratorOptions,
} from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import {
  MemoryBus,
  MemoryEntityStore,
  MemorySerde,
  MemoryTimerStore,
  waitFor,
} from '@sagaflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  purchaseFlow,
  purchaseSchemaDirs,
  purchaseInput,
  type PurchaseInput,
  type StockState,
  type WalletState,
} from '../fixtures/purchase-flow.js';
import { workflowEnded } from '../fixtures/purchase-participants.js';

const stopping: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stopping.splice(0).reverse()) await stop();
});

async function setup(
  flowOptions: Parameters<typeof purchaseFlow>[1] & { withoutParcels?: boolean } = {},
  orchestratorOptions: Partial<OrchestratorOptions> = {},
) {
  const flow = purchaseFlow('shop', flowOptions);
  const participantsOf = (recalls: boolean) => {
    const endpoints = recalls
      ? [...flow.endpoints.slice(0, 2), flow.parcelsWithRecalls]
      : flow.endpoints;
    return new SagaflowService({
      name: 'participants',
      store: participantStore,
      bus: bus.client(),
      serde,
      entities: [flow.stock, flow.wallet, flow.parcel],
      // A later deployment (with recalls) answers parcels in any case.
      commandEndpoints:
        flowOptions.withoutParcels === true && !recalls ? endpoints.slice(0, 2) : endpoints,
    });
  };
  const bus = new MemoryBus();
  const serde = new MemorySerde(await loadSchemaCatalog(purchaseSchemaDirs));
  const participantStore = new MemoryEntityStore();
  const participants = participantsOf(false);
  await participants.start();
  stopping.push(() => participants.stop());
  await participants.execute(flow.stock, 'sku-1', 'Set', { available: 5 });
  await participants.execute(flow.wallet, 'ann', 'Deposit', { amount: 100 });
  const store = new MemoryEntityStore();
  const timers = new MemoryTimerStore();
  const build = (extra: Partial<OrchestratorOptions> = {}) =>
    new Orchestrator({
      name: 'orchestrator',
      store,
      timers,
      bus: bus.client(),
      serde,
      workflows: [flow.purchase, flow.shipFirst],
      timerIntervalMs: 10,
      ...orchestratorOptions,
      ...extra,
    });
  const orchestrator = build();
  await orchestrator.start();
  stopping.push(() => orchestrator.stop());
  const ended = (workflowId: string, o = orchestrator) => workflowEnded(o, workflowId);
  const load = <S>(entity: { type: string }, id: string) =>
    participantStore.load<S>(entity.type, id).then((s) => s?.state);
  return { flow, participants, participantsOf, orchestrator, build, ended, load, timers };
}

const input = (extra: Partial<PurchaseInput> = {}) => purchaseInput(1, { quantity: 2, ...extra });

/** A purchase waiting for its parcel, which nobody ships (each attempt for `timeoutMs`). */
async function waitingOnParcel(timeoutMs = 60_000) {
  const s = await setup({ timeoutMs, withoutParcels: true });
  const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
    key: 'k',
    input: input(),
  });
  await waitFor(
    async () => (await s.orchestrator.get(workflowId))?.current?.step === 'ship-parcel',
    { timeoutMs: 10_000, description: 'waiting for the parcel reply' },
  );
  return { s, workflowId };
}

describe('Orchestrator on the in-memory adapters', () => {
  it('runs the steps in order, passing results on, and starts once per idempotency key', async () => {
    const reads: string[] = [];
    const s = await setup({ price: (sku) => (reads.push(sku), 7) });
    const first = await s.orchestrator.startWorkflow('purchase', { key: 'k-1', input: input() });
    const again = await s.orchestrator.startWorkflow('purchase', { key: 'k-1', input: input() });
    expect(first).toMatchObject({ created: true, version: 1 });
    expect(again).toEqual({ ...first, created: false });
    const state = await s.ended(first.workflowId);
    expect(state.status).toBe('completed');
    expect(state.completed).toEqual(['reserve-item', 'hold-funds', 'ship-parcel']);
    expect(state.results['hold-funds']).toEqual({ purchaseId: 'p-1', amount: 14 });
    expect(state.businessKey).toBe('p-1');
    expect(reads).toEqual(['sku-1']);
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({
      available: 3,
      reservations: 1,
    });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({ balance: 86 });
  });

  it('compensates the completed steps when a step is refused by a reply event', async () => {
    const s = await setup({ price: () => 1000 });
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    const state = await s.ended(workflowId);
    expect(state).toMatchObject({ status: 'compensated', reason: 'insufficient funds' });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({
      available: 5,
      reserved: {},
    });
  });

  it('compensates in reverse order when a command is rejected (CommandRejected)', async () => {
    const s = await setup();
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input({ address: '' }),
    });
    const state = await s.ended(workflowId);
    expect(state).toMatchObject({ status: 'compensated', reason: 'no address to ship to' });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({
      balance: 100,
      held: {},
    });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({ available: 5 });
  });

  it('branches on a reply: a digital purchase completes without shipping', async () => {
    const s = await setup();
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input({ digital: true }),
    });
    const state = await s.ended(workflowId);
    expect(state.status).toBe('completed');
    expect(state.completed).toEqual(['reserve-item', 'hold-funds']);
    expect(await s.load(s.flow.parcel, 'p-1')).toBeUndefined();
  });

  it('retries a step that gets no reply, then compensates the steps before it', async () => {
    const s = await setup({
      timeoutMs: 100,
      retry: { maxAttempts: 3, delayMs: 20 },
      withoutParcels: true,
    });
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    const state = await s.ended(workflowId);
    expect(state).toMatchObject({
      status: 'compensated',
      reason: "step 'ship-parcel' had no reply after 3 attempt(s)",
      completed: ['reserve-item', 'hold-funds'],
    });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({
      balance: 100,
      holds: 1,
    });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({
      available: 5,
      reservations: 1,
    });
  });

  it('fires the timers it set at their time, without waiting for its next look at the timer store', async () => {
    // One look at the store, at the start: the step's timeouts and its retries come from memory.
    const s = await setup(
      { timeoutMs: 100, retry: { maxAttempts: 3, delayMs: 20 }, withoutParcels: true },
      { timerIntervalMs: 3_600_000 },
    );
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    expect(await s.ended(workflowId)).toMatchObject({
      status: 'compensated',
      reason: "step 'ship-parcel' had no reply after 3 attempt(s)",
    });
  });

  it('waits for a timer due in more than 24.8 days (the longest timeout node keeps) without ringing at once', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      await waitingOnParcel(40 * 24 * 3600 * 1000);
      // A warning is emitted on the next tick of the timeout that did not fit.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("reads the views of several workflows side by side: one slow read holds back no other workflow's", async () => {
    // Each read waits until three are in progress: read one after the other, none would end.
    let reading = 0;
    let release: () => void = () => {};
    const allReading = new Promise<void>((resolve) => (release = resolve));
    const s = await setup({
      price: async () => {
        reading += 1;
        if (reading === 3) release();
        await allReading;
        return 7;
      },
    });
    const started = await Promise.all(
      ['a', 'b', 'c'].map((key) =>
        s.orchestrator.startWorkflow('purchase', { key, input: input({ quantity: 1 }) }),
      ),
    );
    for (const { workflowId } of started) {
      expect((await s.ended(workflowId)).status).toBe('completed');
    }
  });

  it('fires again a timer whose firing never ends (a read that never answers), after fireTimeoutMs', async () => {
    let reads = 0;
    const s = await setup(
      {
        // The first read hangs for good, as a call to a server restarted under it can.
        price: () => (++reads === 1 ? new Promise<number>(() => {}) : 10),
      },
      { fireTimeoutMs: 200 },
    );
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    expect(await s.ended(workflowId)).toMatchObject({ status: 'completed' });
    expect(reads).toBe(2);
    expect(() => s.build({ fireTimeoutMs: 0 })).toThrow(
      'fireTimeoutMs must be a positive number (got 0)',
    );
  });

  it('backs off timers that fail to fire: a hundred failing reads hold back no later workflow', async () => {
    const s = await setup({
      price: (sku) => {
        if (sku === 'sku-broken') throw new Error('the price view cannot be read');
        return 7;
      },
    });
    await s.participants.execute(s.flow.stock, 'sku-broken', 'Set', { available: 1000 });
    for (let i = 0; i < 101; i += 1) {
      await s.orchestrator.startWorkflow('purchase', {
        key: `broken-${i}`,
        input: input({ purchaseId: `p-broken-${i}`, sku: 'sku-broken' }),
      });
    }
    // Its timer is due after the hundred and one that keep failing.
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    expect((await s.ended(workflowId)).status).toBe('completed');
    const broken = await s.orchestrator.get(workflowIdOf('purchase', 'broken-0'));
    expect(broken?.status).toBe('running');
    // A failed timer is postponed, not dropped: it fires again later.
    const pending = await s.timers.due(s.orchestrator.entityType, '9999-01-01T00:00:00.000Z', 1000);
    expect(pending.length).toBeGreaterThanOrEqual(101);
  });

  it('keeps the timer of a commit that comes after its timer was taken for an orphan', async () => {
    // The second timer written (the read of 'hold-funds') waits before its commit, longer than
    // the orphan wait: the timer loop deletes the timer meanwhile.
    let written = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = await setup(
      {},
      {
        orphanTimerMs: 100,
        faults: async (point) => {
          if (point === 'timer-written' && ++written === 2) await held;
        },
      },
    );
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    await waitFor(() => written === 2, { timeoutMs: 5000, description: 'the held timer written' });
    const dueNow = () => s.timers.due(s.orchestrator.entityType, new Date().toISOString(), 10);
    await waitFor(async () => (await dueNow()).length === 0, {
      timeoutMs: 5000,
      description: 'the timer deleted as an orphan',
    });
    release();
    const state = await s.ended(workflowId);
    expect(state.status).toBe('completed');
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({ balance: 80 });
  });

  it('fires a timer stored for a commit that lost its version for nothing, and deletes it', async () => {
    // A command decided on a stale state stores its timer, then conflicts: the timer has the
    // version of the winner's commit and a due time of its own.
    const s = await setup({ timeoutMs: 60_000, withoutParcels: true });
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    const waiting = await waitFor(
      async () => {
        const state = await s.orchestrator.get(workflowId);
        return state?.current?.step === 'ship-parcel' && state.timer !== undefined
          ? state
          : undefined;
      },
      { timeoutMs: 10_000, description: 'waiting for the parcel reply' },
    );
    const stray = {
      id: `${waiting.timer!.id}|2020-01-01T00:00:00.000Z`,
      owner: s.orchestrator.entityType,
      workflowId,
      dueAt: '2020-01-01T00:00:00.000Z',
    };
    await s.timers.schedule(stray);
    await s.orchestrator.fireDueTimers();
    const due = await s.timers.due(s.orchestrator.entityType, '2020-01-02T00:00:00.000Z', 10);
    expect(due.map((t) => t.id)).not.toContain(stray.id);
    expect(await s.orchestrator.get(workflowId)).toEqual(waiting);
  });

  it('looks again in a second, not at once, at a timer whose commit is not there yet', async () => {
    const { s, workflowId } = await waitingOnParcel();
    // A timer stored before a commit that is not there (yet): version 99 of the workflow.
    const now = Date.now();
    const early = {
      id: `${workflowId}@99|${new Date(now).toISOString()}`,
      owner: s.orchestrator.entityType,
      workflowId,
      dueAt: new Date(now).toISOString(),
    };
    await s.timers.schedule(early);
    await s.orchestrator.fireDueTimers();
    const dueBy = async (ms: number) =>
      (await s.timers.due(s.orchestrator.entityType, new Date(now + ms).toISOString(), 10)).map(
        (t) => t.id,
      );
    // Neither fired nor dropped: postponed, so the loop does not read it over and over.
    expect(await dueBy(500)).not.toContain(early.id);
    expect(await dueBy(5_000)).toContain(early.id);
  });

  it('cancels a running workflow by compensating it', async () => {
    const { s, workflowId } = await waitingOnParcel();
    await s.orchestrator.cancel(workflowId, { requestedBy: 'ops', reason: 'customer called' });
    expect(await s.ended(workflowId)).toMatchObject({
      status: 'compensated',
      reason: 'customer called',
    });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({ available: 5 });
    await expect(
      s.orchestrator.cancel(workflowId, { requestedBy: 'ops', reason: 'again' }),
    ).rejects.toThrow('workflow is compensated: only a running workflow can be cancelled');
  });

  it('goes only forward once its pivot is sent: a cancel is refused, a pivot without a reply fails the workflow', async () => {
    const s = await setup({
      timeoutMs: 500,
      retry: { maxAttempts: 2, delayMs: 20 },
      pivot: true,
      withoutParcels: true,
    });
    // Nobody answers the parcel commands yet: the pivot is in flight.
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input(),
    });
    await waitFor(
      async () =>
        (await s.orchestrator.get(workflowId))?.current?.commandId?.includes(':s2.') === true,
      { timeoutMs: 5000, description: 'the parcel shipped' },
    );
    await expect(
      s.orchestrator.cancel(workflowId, { requestedBy: 'ops', reason: 'customer called' }),
    ).rejects.toThrow("workflow passed its pivot step 'ship-parcel', which cannot be undone");
    // Its attempts run out: the parcel may still ship, so nothing before it is undone.
    const state = await s.ended(workflowId);
    expect(state).toMatchObject({
      status: 'failed',
      error: "step 'ship-parcel' had no reply after 2 attempt(s)",
      current: { step: 'ship-parcel', phase: 'forward', attempt: 2 },
    });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({ available: 3 });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({ balance: 80 });
    // Parcels are answered again; an operator's retry ships it and the workflow completes.
    await s.participants.stop();
    const fixed = s.participantsOf(true);
    await fixed.start();
    stopping.push(() => fixed.stop());
    await s.orchestrator.retry(workflowId, { requestedBy: 'ops', reason: 'parcels back' });
    expect(await s.ended(workflowId)).toMatchObject({ status: 'completed' });
  });

  it('compensates the steps before a pivot that is refused', async () => {
    const s = await setup({ pivot: true });
    const { workflowId } = await s.orchestrator.startWorkflow('purchase', {
      key: 'k',
      input: input({ address: '' }),
    });
    expect(await s.ended(workflowId)).toMatchObject({ status: 'compensated' });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({ available: 5 });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({ balance: 100 });
    // A pivot cannot be undone, and a workflow has one.
    const [first, second] = s.flow.purchase.steps;
    const undo = () => ({ entityId: 'x', type: 'Undo', payload: {} });
    expect(() =>
      defineWorkflow({ type: 'p', steps: [{ ...first!, pivot: true, compensate: undo }] }),
    ).toThrow('steps[0].pivot marks a step that cannot be undone: it takes no compensate');
    const pivot = (step: typeof first) => {
      const { compensate: _undo, ...rest } = step!;
      return { ...rest, pivot: true };
    };
    expect(() => defineWorkflow({ type: 'p', steps: [pivot(first), pivot(second)] })).toThrow(
      'steps[1].pivot repeats the pivot of steps[0]: a workflow has one at most',
    );
  });

  it('fails when a compensation gets no reply; an operator retry finishes it', async () => {
    const s = await setup({ timeoutMs: 100, retry: { maxAttempts: 3, delayMs: 20 } });
    // Nobody consumes this workflow's parcel commands: the participants run no endpoint for it.
    const { workflowId } = await s.orchestrator.startWorkflow('ship-first-purchase', {
      key: 'k',
      input: input({ customerId: 'nobody' }),
    });
    const state = await s.ended(workflowId);
    // The parcel step shipped, the funds were refused; the recall is dead-lettered by the parcel
    // endpoint (it accepts no recall), so the compensation times out three times: failed.
    expect(state).toMatchObject({ status: 'failed', current: { step: 'ship-parcel', attempt: 3 } });
    expect(state).toMatchObject({
      reason: 'insufficient funds',
      error: "step 'ship-parcel' had no reply after 3 attempt(s)",
    });
    // A parcel service that accepts recalls is deployed; the operator retries the workflow.
    await s.participants.stop();
    const fixed = s.participantsOf(true);
    await fixed.start();
    stopping.push(() => fixed.stop());
    await s.orchestrator.retry(workflowId, { requestedBy: 'ops', reason: 'recalls deployed' });
    expect(await s.ended(workflowId)).toMatchObject({
      status: 'compensated',
      reason: 'insufficient funds',
    });
  });

  it('refuses bad starts, naming the field', async () => {
    const s = await setup();
    await expect(
      s.orchestrator.startWorkflow('nope', { key: 'k', input: input() }),
    ).rejects.toThrow(
      /^type names no workflow here \(got 'nope'; known: purchase, ship-first-purchase\)$/,
    );
    await expect(
      s.orchestrator.startWorkflow('purchase', { key: '', input: input() }),
    ).rejects.toThrow(/^key must be a string of 1 to 200 characters$/);
    await expect(
      s.orchestrator.startWorkflow('purchase', { key: 'k', input: { ...input(), quantity: 0 } }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'input.quantity must be a positive integer',
    });
  });

  it('names a definition version that is not deployed, and refuses one deployed twice', async () => {
    const s = await setup();
    const v2only = s.build({ workflows: [s.flow.purchaseV2] });
    expect(() => v2only.definition('purchase', 1)).toThrow(
      expect.objectContaining({
        code: 'UNKNOWN_WORKFLOW',
        retriable: true,
        message:
          'purchase version 1 is not deployed here (deployed: purchase@2); keep every version that still has running instances',
      }),
    );
    expect(v2only.definition('purchase').version).toBe(2);
    expect(() => s.build({ workflows: [s.flow.purchase, s.flow.purchase] })).toThrow(
      'workflows hold purchase version 1 twice',
    );
  });
});
