import type { AddressInfo } from 'node:net';
import { createAdminApp } from '@sagaflow/admin';
import {
  commandsTopic,
  DeadLetterIndexer,
  deadLetterTopic,
  SagaTracker,
  WorkflowControl,
  workflowTopics,
  type SagaView,
} from '@sagaflow/core';
import { KafkaBus } from '@sagaflow/kafka';
import { MongoAuditLog, MongoDeadLetterStore, MongoSagaViewStore } from '@sagaflow/mongodb';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { purchaseFlow, purchaseInput, purchaseSchemaDirs } from '../fixtures/purchase-flow.js';
import { realOrchestrator } from '../fixtures/real-orchestrator.js';
import { realService } from '../fixtures/real-service.js';

const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close();
});

const input = purchaseInput;

describe('orchestrated workflows in the admin service', () => {
  const domain = uniqueDomain();
  const flow = purchaseFlow(domain, { timeoutMs: 4000, retry: { maxAttempts: 2, delayMs: 200 } });
  const entityType = `${domain}.workflow`;
  let real: Awaited<ReturnType<typeof realOrchestrator>>;
  let parcels: Awaited<ReturnType<typeof realService>>;
  let parcelService: Awaited<ReturnType<typeof realService>>['service'];
  let views: MongoSagaViewStore;
  let api: (path: string, init?: RequestInit) => Promise<Response>;

  const view = (workflowId: string, until: (v: SagaView) => boolean, what: string) =>
    waitFor(
      async () => {
        const found = await views.view(workflowId);
        return found !== undefined && until(found) ? found : undefined;
      },
      { timeoutMs: 60_000, description: what },
    );

  beforeAll(async () => {
    const database = uniqueDatabase('workflow-admin');
    const shop = await realService(testEnv(), {
      name: `shop-${domain}`,
      database,
      schemasDir: purchaseSchemaDirs,
      entities: [flow.stock, flow.wallet],
      commandEndpoints: flow.endpoints.slice(0, 2),
    });
    await shop.service.start();
    closing.push(async () => {
      await shop.service.stop();
      await shop.close();
    });
    await shop.service.execute(flow.stock, 'sku-1', 'Set', { available: 100 });
    await shop.service.execute(flow.wallet, 'ann', 'Deposit', { amount: 10_000 });
    parcels = await realService(testEnv(), {
      name: `parcels-${domain}`,
      database: uniqueDatabase('parcels'),
      schemasDir: purchaseSchemaDirs,
      entities: [flow.parcel],
      commandEndpoints: [flow.endpoints[2]!],
    });
    parcelService = parcels.service;
    await parcelService.start();
    closing.push(async () => {
      await parcelService.stop();
      await parcels.close();
    });
    real = await realOrchestrator(testEnv(), {
      name: `orchestrator-${domain}`,
      database: uniqueDatabase('orchestrator'),
      schemasDir: purchaseSchemaDirs,
      entityType,
      workflows: [flow.purchase, flow.shipFirst],
    });
    await real.orchestrator.start();
    closing.push(async () => {
      await real.orchestrator.stop();
      await real.close();
    });

    // The admin service: a tracker of the workflows, the dead letters, and the API.
    const client = await new MongoClient(testEnv().mongodbUrl).connect();
    closing.push(() => client.close());
    const db = client.db(uniqueDatabase('admin'));
    views = new MongoSagaViewStore(db);
    const bus = new KafkaBus({
      brokers: testEnv().kafkaBrokers,
      clientId: `admin-${domain}`,
      sessionTimeoutMs: 6000,
      logLevel: 'nothing',
    });
    closing.push(() => bus.close());
    const tracker = new SagaTracker({
      groupId: `tracker-${domain}`,
      definitions: [],
      workflowTopics: workflowTopics(entityType, [flow.purchase, flow.shipFirst]),
      subscriber: bus,
      serde: real.serde,
      views,
      stuckCheckIntervalMs: 500,
    });
    await tracker.start();
    closing.push(() => tracker.stop());
    const deadLetters = new MongoDeadLetterStore(db);
    const indexer = new DeadLetterIndexer({
      subscriber: bus,
      store: deadLetters,
      topics: [deadLetterTopic(`parcels-${domain}.${commandsTopic(flow.parcel.type)}`)],
      groupId: `dlq-index-${domain}`,
    });
    await indexer.start();
    closing.push(() => indexer.stop());
    const app = createAdminApp({
      views,
      audit: new MongoAuditLog(db),
      token: 'admin-token',
      requestCompensation: (sagaId, request) => tracker.requestCompensation(sagaId, request),
      readiness: () => Promise.resolve({ ready: true, checks: {} }),
      workflowControl: new WorkflowControl({ publisher: bus, serde: real.serde, service: 'admin' }),
      deadLetters: { store: deadLetters, publisher: bus },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    closing.push(() => new Promise((resolve) => server.close(resolve)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    api = (path, init = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: {
          authorization: 'Bearer admin-token',
          'content-type': 'application/json',
          'x-operator': 'test-operator',
        },
      });
  });

  it('lists workflows with their step states and timeline next to choreographies', async () => {
    const { workflowId } = await real.orchestrator.startWorkflow('purchase', {
      key: 'order-1',
      input: input(1),
    });
    const done = await view(workflowId, (v) => v.status === 'completed', 'the completed view');
    expect(done).toMatchObject({
      type: 'purchase',
      businessKey: 'p-1',
      steps: [
        { name: 'reserve-item', participant: flow.stock.type, status: 'done' },
        { name: 'hold-funds', participant: flow.wallet.type, status: 'done' },
        { name: 'ship-parcel', participant: flow.parcel.type, status: 'done' },
      ],
    });
    // The timeline holds the workflow's events and the participants' replies.
    const types = done.timeline.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['WorkflowStarted', 'ItemReserved', 'FundsHeld', 'ParcelShipped']),
    );
    // Each step's start says which replies it awaited (what the page shows while it waits).
    const awaited = done.timeline
      .filter((e) => e.type === 'WorkflowStepStarted')
      .map((e) => [e.keyFields['step'], e.keyFields['awaits']]);
    expect(awaited).toEqual([
      ['reserve-item', 'ItemReserved,ItemRefused,CommandAccepted,CommandRejected'],
      ['hold-funds', 'FundsHeld,FundsRefused,CommandAccepted,CommandRejected'],
      ['ship-parcel', ''],
    ]);
    const listed = (await (await api('/sagas?type=purchase')).json()) as {
      sagas: { sagaId: string; status: string }[];
    };
    expect(listed.sagas).toContainEqual(
      expect.objectContaining({ sagaId: workflowId, status: 'completed' }),
    );
    const retried = await api(`/sagas/${workflowId}/retry`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'again' }),
    });
    expect(retried.status).toBe(409);
    const refusal = (await retried.json()) as { error: { code: string; message: string } };
    expect(refusal.error.code).toBe('SAGA_NOT_FAILED');
    expect(refusal.error.message).toBe(
      `saga '${workflowId}' is completed: only a failed workflow can be retried`,
    );
  });

  it('cancels a running workflow by compensating it (POST /sagas/:id/compensate)', async () => {
    await parcelService.stop();
    const { workflowId } = await real.orchestrator.startWorkflow('purchase', {
      key: 'order-2',
      input: input(2),
    });
    await view(workflowId, (v) => v.currentStep === 'ship-parcel', 'waiting on the parcel');
    const cancelled = await api(`/sagas/${workflowId}/compensate`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'customer called' }),
    });
    expect(cancelled.status).toBe(202);
    const compensated = await view(
      workflowId,
      (v) => v.status === 'compensated',
      'the compensated view',
    );
    expect(compensated).toMatchObject({
      compensationRequest: { by: 'test-operator', reason: 'customer called' },
      steps: [
        { name: 'reserve-item', status: 'compensated' },
        { name: 'hold-funds', status: 'compensated' },
        { name: 'ship-parcel', status: 'abandoned' },
      ],
    });
    parcelService = parcels.again();
    await parcelService.start();
  });

  it('fails a workflow whose compensation is dead-lettered, shows it, and an operator retry finishes it', async () => {
    const { workflowId } = await real.orchestrator.startWorkflow('ship-first-purchase', {
      key: 'order-3',
      input: input(3, { customerId: 'nobody' }),
    });
    const failed = await view(workflowId, (v) => v.status === 'failed', 'the failed view');
    expect(failed.error).toBe("step 'ship-parcel' had no reply after 2 attempt(s)");
    expect(failed.steps).toMatchObject([
      { name: 'ship-parcel', status: 'failed' },
      { name: 'hold-funds', status: 'failed' },
    ]);
    // The parcel service dead-lettered both recalls: it does not know the command.
    const letters = await waitFor(
      async () => {
        const body = (await (await api('/dead-letters')).json()) as {
          deadLetters: { reason: string; headers: Record<string, string> }[];
        };
        const recalls = body.deadLetters.filter(
          (l) => l.headers['sagaflow-saga-id'] === workflowId,
        );
        return recalls.length === 2 ? recalls : undefined;
      },
      { timeoutMs: 30_000, description: 'the dead-lettered recalls in the admin' },
    );
    expect(letters[0]!.reason).toContain("accepts no command 'RecallParcel'");
    // A parcel service that accepts recalls is deployed; the operator retries the workflow.
    await parcelService.stop();
    parcelService = parcels.again({
      commandEndpoints: [flow.parcelsWithRecalls],
    });
    await parcelService.start();
    const retried = await api(`/sagas/${workflowId}/retry`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'recalls deployed' }),
    });
    expect(retried.status).toBe(202);
    const accepted = (await retried.json()) as { commandId: string };
    expect(accepted.commandId).toMatch(/^operator-/);
    const compensated = await view(
      workflowId,
      (v) => v.status === 'compensated',
      'the compensated view after the retry',
    );
    expect(compensated.steps).toMatchObject([
      { name: 'ship-parcel', status: 'compensated' },
      { name: 'hold-funds', status: 'failed' },
    ]);
    expect(await real.orchestrator.get(workflowId)).toMatchObject({
      status: 'compensated',
      reason: 'insufficient funds',
    });
  });
});
