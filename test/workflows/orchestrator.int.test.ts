import {
  commandHeaderNames,
  commandsTopic,
  deadLetterTopic,
  eventsTopic,
  headerNames,
  defineWorkflow,
  SagaTracker,
  workflowTopics,
  type AnyWorkflowDefinition,
  type SagaView,
  type WorkflowState,
} from '@sagaflow/core';
import { KafkaBus } from '@sagaflow/kafka';
import { MongoSagaViewStore } from '@sagaflow/mongodb';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueDomain } from '../fixtures/pipeline.js';
import {
  purchaseFlow,
  purchaseSchemaDirs,
  purchaseInput,
  type PurchaseInput,
  type StockState,
  type WalletState,
} from '../fixtures/purchase-flow.js';
import { holdAmountStep, reserveItemStep, shipStep } from '../fixtures/purchase-participants.js';
import { realOrchestrator } from '../fixtures/real-orchestrator.js';
import { realService } from '../fixtures/real-service.js';
import { readTopic } from '../fixtures/topic-reader.js';

const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

const ENDED = ['completed', 'compensated', 'failed'];

/** Participants and an orchestrator of one test domain on the real servers. */
async function system(
  flowOptions: Parameters<typeof purchaseFlow>[1] = {},
  options: {
    parcels?: boolean;
    versions?: 'v1' | 'v2';
    /** Other workflows to run. @default the flow's purchase (and its version 2, with `versions`) */
    workflows?: (flow: ReturnType<typeof purchaseFlow>) => AnyWorkflowDefinition[];
  } = {},
) {
  const domain = uniqueDomain();
  const flow = purchaseFlow(domain, flowOptions);
  const participants = await realService(testEnv(), {
    name: `participants-${domain}`,
    database: uniqueDatabase('participants'),
    schemasDir: purchaseSchemaDirs,
    entities: [flow.stock, flow.wallet, flow.parcel],
    commandEndpoints: options.parcels === false ? flow.endpoints.slice(0, 2) : flow.endpoints,
  });
  await participants.service.start();
  closing.push(async () => {
    await participants.service.stop();
    await participants.close();
  });
  await participants.service.execute(flow.stock, 'sku-1', 'Set', { available: 1000 });
  await participants.service.execute(flow.wallet, 'ann', 'Deposit', { amount: 1_000_000 });
  const database = uniqueDatabase('orchestrator');
  const real = await realOrchestrator(testEnv(), {
    name: `orchestrator-${domain}`,
    database,
    schemasDir: purchaseSchemaDirs,
    entityType: `${domain}.workflow`,
    workflows:
      options.workflows?.(flow) ??
      (options.versions === 'v2' ? [flow.purchase, flow.purchaseV2] : [flow.purchase]),
  });
  closing.push(() => real.close());
  const running: { stop(): Promise<void> }[] = [];
  closing.push(() => Promise.all(running.map((o) => o.stop())));
  const start = async (orchestrator = real.orchestrator) => {
    await orchestrator.start();
    running.push(orchestrator);
    return orchestrator;
  };
  const ended = (workflowId: string, timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const state = await real.orchestrator.get(workflowId);
        return state !== undefined && ENDED.includes(state.status) ? state : undefined;
      },
      { timeoutMs, description: `workflow ${workflowId} ended` },
    );
  const load = <S>(entity: { type: string }, id: string) =>
    participants.store.load<S>(entity.type, id).then((s) => s?.state);
  /** The parcel service on its own, for a system started without it. */
  const startParcels = async () => {
    const parcels = await realService(testEnv(), {
      name: `parcels-${domain}`,
      database: uniqueDatabase('parcels'),
      schemasDir: purchaseSchemaDirs,
      entities: [flow.parcel],
      commandEndpoints: [flow.endpoints[2]!],
    });
    await parcels.service.start();
    closing.push(async () => {
      await parcels.service.stop();
      await parcels.close();
    });
  };
  return { domain, database, flow, participants, real, start, startParcels, ended, load };
}

const input = purchaseInput;

describe('orchestrator on the real servers', () => {
  it('keeps the state and the commands to send in one commit, published by the relay', async () => {
    const s = await system();
    const commands = await readTopic(testEnv().kafkaBrokers, commandsTopic(s.flow.stock.type));
    closing.push(commands.stop);
    await s.start();
    const { workflowId } = await s.real.orchestrator.startWorkflow('purchase', {
      key: 'order-1',
      input: input(1),
    });
    expect(await s.ended(workflowId)).toMatchObject({ status: 'completed' });
    // The first commit: one document holding the new state and the command it sends.
    const client = await new MongoClient(testEnv().mongodbUrl).connect();
    closing.push(() => client.close());
    const first = await client
      .db(s.database)
      .collection(`${s.domain}_workflow_commits`)
      .findOne({ entityId: workflowId, version: 1 });
    const commandId = `${workflowId}:s0.1`;
    expect(first).toMatchObject({
      state: { status: 'running', current: { step: 'reserve-item', attempt: 1, commandId } },
      events: [
        { type: 'WorkflowStarted' },
        {
          type: 'ReserveItem',
          payload: { purchaseId: 'p-1', quantity: 1 },
          command: { commandId, entityType: s.flow.stock.type, entityId: 'sku-1' },
        },
        { type: 'WorkflowStepStarted', payload: { commandId, step: 'reserve-item' } },
      ],
    });
    // Published: its outbox marker, written before it, is gone.
    const outbox = client
      .db(s.database)
      .collection<{ entityId: string; version: number }>(`${s.domain}_workflow_outbox`);
    await waitFor(
      async () => (await outbox.findOne({ entityId: workflowId, version: 1 })) === null,
      {
        timeoutMs: 10_000,
        description: 'the outbox marker deleted',
      },
    );
    const sent = await waitFor(
      () => commands.messages.find((m) => m.headers[commandHeaderNames.commandId] === commandId),
      { timeoutMs: 10_000, description: 'the command on its topic' },
    );
    expect(sent.headers[headerNames.sagaId]).toBe(workflowId);
    expect(sent.key).toBe('sku-1');
  });

  it('runs the branches of a parallel step side by side, and compensates the one done when another refuses', async () => {
    const s = await system(
      {},
      {
        workflows: (flow) => [
          defineWorkflow<PurchaseInput>({
            type: 'purchase',
            businessKey: (purchase) => purchase.purchaseId,
            steps: [
              {
                name: 'prepare',
                parallel: [reserveItemStep(flow), holdAmountStep(flow, 25), shipStep(flow)],
              },
            ],
          }),
        ],
      },
    );
    await s.start();
    const shipped = await s.real.orchestrator.startWorkflow('purchase', {
      key: 'order-p1',
      input: input(1),
    });
    const refused = await s.real.orchestrator.startWorkflow('purchase', {
      key: 'order-p2',
      input: input(2, { address: '' }),
    });
    const done = await s.ended(shipped.workflowId);
    expect(done.status).toBe('completed');
    expect([...done.completed].sort()).toEqual([
      'hold-funds',
      'prepare',
      'reserve-item',
      'ship-parcel',
    ]);
    expect(await s.ended(refused.workflowId)).toMatchObject({
      status: 'compensated',
      reason: 'no address to ship to',
    });
    // The refused purchase's reservation and hold are undone, each applied once.
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({
      available: 999,
      reserved: { 'p-1': 1 },
      reservations: 2,
    });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({
      balance: 1_000_000 - 25,
      held: { 'p-1': 25 },
      holds: 2,
    });
    // The three commands went out in the start's commit (one document).
    const client = await new MongoClient(testEnv().mongodbUrl).connect();
    closing.push(() => client.close());
    const first = await client
      .db(s.database)
      .collection<{ events: { command?: { commandId: string } }[] }>(`${s.domain}_workflow_commits`)
      .findOne({ entityId: refused.workflowId, version: 1 });
    expect(
      first!.events.flatMap((e) => (e.command === undefined ? [] : [e.command.commandId])),
    ).toEqual([0, 1, 2].map((b) => `${refused.workflowId}:s0b${b}.1`));
  });

  it('sends every command once per attempt, and applies a reply once however often it comes', async () => {
    const s = await system();
    const replies = await readTopic(testEnv().kafkaBrokers, eventsTopic(s.flow.stock.type));
    closing.push(replies.stop);
    await s.start();
    const { workflowId } = await s.real.orchestrator.startWorkflow('purchase', {
      key: 'order-2',
      input: input(2),
    });
    const completed = await s.ended(workflowId);
    expect(completed.status).toBe('completed');
    const commitsBefore = (await s.real.store.load<WorkflowState>(
      s.real.orchestrator.entityType,
      workflowId,
    ))!.version;
    // The participant gets the same command again (a resend): it is not applied again, and it is
    // answered again with the same reply, which the orchestrator drops.
    const command = { purchaseId: 'p-2', quantity: 1 };
    const encoded = await s.participants.serde.encode('ReserveItem', command);
    const { KafkaBus } = await import('@sagaflow/kafka');
    const { commandMessage } = await import('@sagaflow/core');
    const sender = new KafkaBus({
      brokers: testEnv().kafkaBrokers,
      clientId: 'resender',
      logLevel: 'nothing',
    });
    closing.push(() => sender.close());
    const resend = commandMessage(
      {
        commandId: `${workflowId}:s0.1`,
        type: 'ReserveItem',
        entityType: s.flow.stock.type,
        entityId: 'sku-1',
        sagaId: workflowId,
        service: 'resender',
        occurredAt: new Date().toISOString(),
      },
      encoded.value,
      encoded.schema,
    );
    await sender.publish([resend, resend]);
    await waitFor(
      () =>
        replies.messages.filter((m) => m.headers[headerNames.causationId] === `${workflowId}:s0.1`)
          .length >= 3,
      { timeoutMs: 20_000, description: 'the reply sent again for each resend' },
    );
    const answers = replies.messages.filter(
      (m) => m.headers[headerNames.causationId] === `${workflowId}:s0.1`,
    );
    expect(new Set(answers.map((m) => m.eventId)).size).toBe(1);
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({
      available: 999,
      reservations: 1,
    });
    // The orchestrator's reply consumer has read past the last answer: it saw the duplicates.
    const last = answers.at(-1)!;
    await waitFor(
      async () => {
        const committed = await sender.committedOffsets(
          `orchestrator-${s.domain}.workflow-replies`,
          eventsTopic(s.flow.stock.type),
        );
        return (committed.get(last.partition) ?? 0n) > BigInt(last.offset);
      },
      { timeoutMs: 20_000, description: 'the duplicate replies consumed by the orchestrator' },
    );
    const after = await s.real.store.load<WorkflowState>(
      s.real.orchestrator.entityType,
      workflowId,
    );
    expect(after!.version).toBe(commitsBefore);
    expect(after!.state).toEqual(completed);
  });

  it('keeps step timeouts and retry delays across restarts, then compensates the exhausted step', async () => {
    const s = await system(
      { timeoutMs: 2500, retry: { maxAttempts: 2, delayMs: 1500 } },
      { parcels: false },
    );
    const first = await s.start();
    const { workflowId } = await first.startWorkflow('purchase', {
      key: 'order-3',
      input: input(3),
    });
    const waiting = await waitFor(
      async () => {
        const state = await first.get(workflowId);
        return state?.current?.step === 'ship-parcel' ? state : undefined;
      },
      { timeoutMs: 30_000, description: 'waiting for the parcel reply' },
    );
    await first.stop();
    // The deadline is stored: it passes while no orchestrator runs.
    const stored = await s.real.timers.due(first.entityType, waiting.timer!.dueAt, 10);
    expect(stored.map((t) => t.id)).toContain(`${waiting.timer!.id}|${waiting.timer!.dueAt}`);
    await waitFor(() => Date.now() > Date.parse(waiting.timer!.dueAt), {
      timeoutMs: 10_000,
      description: 'the deadline passed',
    });
    // A new instance fires the overdue timeout; the retry delay it sets survives the next restart.
    const second = await s.start(s.real.again());
    const delayed = await waitFor(
      async () => {
        const state = await second.get(workflowId);
        return state?.timer?.kind === 'retry' ? state : undefined;
      },
      { timeoutMs: 30_000, description: 'the retry delay set' },
    );
    await second.stop();
    expect(delayed.current).toMatchObject({ step: 'ship-parcel', attempt: 1 });
    await s.start(s.real.again());
    const state = await s.ended(workflowId);
    expect(state).toMatchObject({
      status: 'compensated',
      reason: "step 'ship-parcel' had no reply after 2 attempt(s)",
      completed: ['reserve-item', 'hold-funds'],
      toCompensate: [],
    });
    expect(await s.load<StockState>(s.flow.stock, 'sku-1')).toMatchObject({
      available: 1000,
      reservations: 1,
    });
    expect(await s.load<WalletState>(s.flow.wallet, 'ann')).toMatchObject({
      balance: 1_000_000,
      holds: 1,
    });
  });

  it('finishes running workflows on the version they started with when a new one is deployed', async () => {
    const s = await system({ timeoutMs: 60_000 }, { parcels: false });
    const v1 = await s.start();
    const old = await Promise.all(
      [11, 12, 13].map((n) => v1.startWorkflow('purchase', { key: `order-${n}`, input: input(n) })),
    );
    await waitFor(
      async () => {
        const states = await Promise.all(old.map((w) => v1.get(w.workflowId)));
        return states.every((state) => state?.current?.step === 'ship-parcel');
      },
      {
        timeoutMs: 30_000,
        description: 'the v1 workflows at their last step',
      },
    );
    await v1.stop();
    // Deploy version 2 (next to version 1), and the parcel service.
    const v2 = await s.start(s.real.again({ workflows: [s.flow.purchase, s.flow.purchaseV2] }));
    const fresh = await v2.startWorkflow('purchase', { key: 'order-14', input: input(14) });
    expect(fresh.version).toBe(2);
    expect(old.map((w) => w.version)).toEqual([1, 1, 1]);
    await s.startParcels();
    for (const w of old) {
      expect(await s.ended(w.workflowId)).toMatchObject({
        status: 'completed',
        version: 1,
        completed: ['reserve-item', 'hold-funds', 'ship-parcel'],
      });
    }
    expect(await s.ended(fresh.workflowId)).toMatchObject({
      status: 'completed',
      version: 2,
      completed: ['hold-funds', 'reserve-item', 'ship-parcel'],
    });
  });
  it('holds a reply for a workflow version not deployed here, shows why in the tracked view, and goes on once it is deployed', async () => {
    const s = await system({ timeoutMs: 60_000 }, { parcels: false, versions: 'v2' });
    // The admin's tracker of these workflows, on the real servers.
    const client = await new MongoClient(testEnv().mongodbUrl).connect();
    closing.push(() => client.close());
    const views = new MongoSagaViewStore(client.db(uniqueDatabase('views')));
    const bus = new KafkaBus({
      brokers: testEnv().kafkaBrokers,
      clientId: `tracker-${s.domain}`,
      logLevel: 'nothing',
    });
    closing.push(() => bus.close());
    const tracker = new SagaTracker({
      groupId: `tracker-${s.domain}`,
      definitions: [],
      workflowTopics: workflowTopics(`${s.domain}.workflow`, [s.flow.purchase, s.flow.purchaseV2]),
      subscriber: bus,
      serde: s.real.serde,
      views,
    });
    const tracked = (workflowId: string, until: (v: SagaView) => boolean, what: string) =>
      waitFor(
        async () => {
          const found = await views.view(workflowId);
          return found !== undefined && until(found) ? found : undefined;
        },
        { timeoutMs: 60_000, description: what },
      );

    // Version 2 starts a workflow (the parcel service is not there yet) ...
    const v2 = await s.start();
    // (Its topics exist once an orchestrator has started.)
    await tracker.start();
    closing.push(() => tracker.stop());
    const started = await v2.startWorkflow('purchase', { key: 'order-21', input: input(21) });
    expect(started.version).toBe(2);
    await tracked(started.workflowId, (v) => v.currentStep === 'ship-parcel', 'at ship-parcel');
    // ... and is rolled back: the orchestrator that takes over knows version 1 only.
    await v2.stop();
    await s.start(s.real.again({ workflows: [s.flow.purchase] }));
    await s.startParcels();
    // The parcel's reply waits in the orchestrator, and the admin's view says for what.
    const waiting = await tracked(
      started.workflowId,
      (v) => v.waiting !== undefined,
      'the view of the waiting workflow',
    );
    expect(waiting.waiting).toMatchObject({
      code: 'UNKNOWN_WORKFLOW',
      reason: expect.stringContaining('purchase version 2 is not deployed here') as unknown,
      messageType: 'ParcelShipped',
      service: `orchestrator-${s.domain}`,
    });
    expect(waiting.status).toBe('running');
    // Version 2 again: the reply is handled, the workflow completes, and nothing waits.
    await s.start(s.real.again({ workflows: [s.flow.purchase, s.flow.purchaseV2] }));
    const done = await tracked(started.workflowId, (v) => v.status === 'completed', 'completed');
    expect(done.waiting).toBeUndefined();
    // (The process that waited stopped: the wait ended when the workflow moved on.)
    expect(done.timeline.map((e) => e.type)).toEqual(
      expect.arrayContaining(['ParcelShipped', 'SagaMessageWaiting', 'WorkflowCompleted']),
    );
    // Held, never dead-lettered.
    const letters = await bus.endOffsets(
      deadLetterTopic(`orchestrator-${s.domain}.workflow-replies`),
    );
    expect([...letters.values()].reduce((a, b) => a + b, 0n)).toBe(0n);
  });
});
