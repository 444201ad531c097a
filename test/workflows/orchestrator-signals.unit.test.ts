import type { Orchestrator } from '@sagaflow/core';
import {
  commandMessage,
  defineWorkflow,
  done,
  isSagaflowError,
  refuse,
  WorkflowControl,
  type WorkflowStep,
} from '@sagaflow/core';
import { workflowRoutes } from '@sagaflow/admin';
import { waitFor } from '@sagaflow/testing';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { purchaseInput, type PurchaseInput } from '../fixtures/purchase-flow.js';
import {
  holdFundsStep,
  purchaseOrchestration,
  reserveItemStep,
  workflowEnded,
} from '../fixtures/purchase-participants.js';
import { stopAfterEach } from '../fixtures/stop-after-each.js';

const started = stopAfterEach();

interface Approval {
  readonly approved: boolean;
  readonly by: string;
}

/** Reserves the items, waits for an approval (or not, after `timeoutMs`), then holds the funds. */
async function setup(timeoutMs = 5000) {
  const approval: WorkflowStep<PurchaseInput> = {
    name: 'await-approval',
    signal: 'approval',
    timeoutMs,
    onSignal: (payload) => {
      const { approved, by } = payload as Approval;
      return approved ? done(payload) : refuse(`refused by ${by}`);
    },
  };
  const { build, stock, bus, serde } = await purchaseOrchestration(
    'signals',
    (flow) => [
      defineWorkflow<PurchaseInput>({
        type: 'approved-purchase',
        signals: { approval: null, 'new-address': 'ParcelShipped' },
        steps: [reserveItemStep(flow), approval, holdFundsStep(flow)],
      }),
      // Sleeps first: a signal sent meanwhile is kept for the step that waits for it.
      defineWorkflow<PurchaseInput>({
        type: 'slow-approved-purchase',
        signals: { approval: null },
        steps: [
          reserveItemStep(flow),
          { name: 'first-a-nap', sleep: 400 },
          approval,
          holdFundsStep(flow),
        ],
      }),
    ],
    started,
  );
  const orchestrator = build();
  await orchestrator.start();
  started.push(orchestrator);
  const waiting = (o: Orchestrator, workflowId: string) =>
    waitFor(
      async () => {
        const state = await o.get(workflowId);
        return state?.current?.step === 'await-approval' ? state : undefined;
      },
      { timeoutMs: 5000, description: 'the workflow waiting for its approval' },
    );
  return { orchestrator, build, waiting, stock, bus, serde };
}

/** A SignalWorkflow command on the workflow's command topic, as a commit of another saga sends it. */
async function signalFromAnotherSaga(
  s: Awaited<ReturnType<typeof setup>>,
  workflowId: string,
  payload: Approval,
) {
  const value = {
    name: 'approval',
    payload: JSON.stringify(payload),
    requestedBy: payload.by,
    key: `from-${workflowId}`,
  };
  const encoded = await s.serde.encode('SignalWorkflow', value);
  await s.bus.client().publish([
    commandMessage(
      {
        commandId: `order-approval-${workflowId}`,
        type: 'SignalWorkflow',
        entityType: s.orchestrator.entityType,
        entityId: workflowId,
        // The sender's own saga: an order's, say, not the workflow's.
        sagaId: 'saga-of-the-sender',
        service: 'order-service',
        occurredAt: new Date().toISOString(),
      },
      encoded.value,
      encoded.schema,
    ),
  ]);
}

describe('A signal step', () => {
  it("keeps the workflow's own saga id when a signal comes from another saga's commit", async () => {
    const s = await setup();
    const { orchestrator, waiting } = s;
    const { workflowId } = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waiting(orchestrator, workflowId);
    await signalFromAnotherSaga(s, workflowId, { approved: true, by: 'ann' });
    // The step after the signal is answered (its reply carries the workflow's id as saga id) and
    // the workflow completes.
    expect(await workflowEnded(orchestrator, workflowId)).toMatchObject({
      status: 'completed',
      results: { 'await-approval': { approved: true, by: 'ann' } },
    });
  });

  it('takes the signal it waits for, once per idempotency key, and none after the end', async () => {
    const { orchestrator, waiting } = await setup();
    const { workflowId } = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    const wait = await waiting(orchestrator, workflowId);
    expect(wait.timer).toMatchObject({ kind: 'signal' });
    const approval = { approved: true, by: 'ann' };
    expect(
      await orchestrator.signal(workflowId, 'approval', approval, { idempotencyKey: 'k-1' }),
    ).toEqual({ workflowId, signal: 'approval', duplicate: false });
    expect(
      await orchestrator.signal(workflowId, 'approval', approval, { idempotencyKey: 'k-1' }),
    ).toEqual({ workflowId, signal: 'approval', duplicate: true });
    const ended = await workflowEnded(orchestrator, workflowId);
    expect(ended).toMatchObject({
      status: 'completed',
      completed: ['reserve-item', 'await-approval', 'hold-funds'],
      results: { 'await-approval': approval },
    });
    expect(ended.signals ?? {}).toEqual({});
    // Sent again with its key after the end: the same answer, nothing changed.
    expect(
      await orchestrator.signal(workflowId, 'approval', approval, { idempotencyKey: 'k-1' }),
    ).toEqual({ workflowId, signal: 'approval', duplicate: true });
    await expect(
      orchestrator.signal(workflowId, 'approval', approval, { idempotencyKey: 'k-2' }),
    ).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
      message: 'workflow is completed: it takes no more signals',
    });
  });

  it('keeps a signal sent before the step waits, and takes it then; across a restart of the orchestrator', async () => {
    const { orchestrator, build } = await setup();
    const { workflowId } = await orchestrator.startWorkflow('slow-approved-purchase', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waitFor(
      async () => (await orchestrator.get(workflowId))?.current?.step === 'first-a-nap',
      {
        timeoutMs: 5000,
        description: 'the workflow napping',
      },
    );
    await orchestrator.signal(workflowId, 'approval', { approved: true, by: 'bob' });
    expect((await orchestrator.get(workflowId))?.signals).toEqual({
      approval: [{ approved: true, by: 'bob' }],
    });
    await orchestrator.stop();
    const again = build();
    await again.start();
    started.push(again);
    const ended = await workflowEnded(again, workflowId);
    expect(ended).toMatchObject({
      status: 'completed',
      results: { 'await-approval': { approved: true, by: 'bob' } },
    });
    expect(ended.signals ?? {}).toEqual({});
  });

  it('compensates on a refusal, and on no signal within its timeout', async () => {
    const { orchestrator, waiting, stock } = await setup(300);
    const refused = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waiting(orchestrator, refused.workflowId);
    await orchestrator.signal(refused.workflowId, 'approval', { approved: false, by: 'cy' });
    expect(await workflowEnded(orchestrator, refused.workflowId)).toMatchObject({
      status: 'compensated',
      reason: 'refused by cy',
    });
    const silent = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-2',
      input: purchaseInput(2),
    });
    expect(await workflowEnded(orchestrator, silent.workflowId)).toMatchObject({
      status: 'compensated',
      reason: "no signal 'approval' within 300 ms",
    });
    expect((await stock())?.reserved).toEqual({});
  });

  it('refuses a signal the workflow does not take, naming what is wrong', async () => {
    const { orchestrator, waiting } = await setup();
    const { workflowId } = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waiting(orchestrator, workflowId);
    const refusal = async (attempt: Promise<unknown>) => {
      const error: unknown = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSagaflowError(error)).toBe(true);
      return error as { code: string; message: string; context: { field?: string } };
    };
    expect(await refusal(orchestrator.signal(workflowId, 'approve', {}))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      context: { field: 'name' },
      message:
        "name names no signal of approved-purchase v1 (got 'approve'; signals: approval, new-address)",
    });
    expect(
      await refusal(orchestrator.signal(workflowId, 'new-address', { purchaseId: 'p-1' })),
    ).toMatchObject({ code: 'INVALID_ARGUMENT', context: { field: 'payload.address' } });
    expect(await refusal(orchestrator.signal('wf-none', 'approval', {}))).toMatchObject({
      code: 'NOT_FOUND',
    });
    // A kept signal of a type the step does not wait for: the workflow keeps it.
    await orchestrator.signal(workflowId, 'new-address', {
      purchaseId: 'p-1',
      address: '2 Elm St',
    });
    expect((await orchestrator.get(workflowId))?.signals).toEqual({
      'new-address': [{ purchaseId: 'p-1', address: '2 Elm St' }],
    });
    expect(() =>
      defineWorkflow({ type: 'no-signals', steps: [{ name: 'wait', signal: 'go' }] }),
    ).toThrow(
      /^steps\[0\]\.signal names 'go', which the workflow does not declare \(signals: none\)/,
    );
    expect(() =>
      defineWorkflow({
        type: 'bad-signal',
        signals: { go: null },
        steps: [{ name: 'wait', signal: 'go', entity: 'shop.stock' }],
      }),
    ).toThrow(/^steps\[0\]\.entity has no place in a signal step/);
  });

  it('takes signals over HTTP (token, Idempotency-Key) and from the command topic', async () => {
    const { orchestrator, waiting, bus, serde } = await setup();
    const app = express().use(workflowRoutes(orchestrator, { token: 'secret' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    started.push({ stop: () => new Promise((resolve) => server.close(resolve)) });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = (path: string, body: unknown, key: string | null = 'k-1', token = 'secret') =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          ...(key === null ? {} : { 'idempotency-key': key }),
        },
        body: JSON.stringify(body),
      });
    const first = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-1',
      input: purchaseInput(1),
    });
    await waiting(orchestrator, first.workflowId);
    const path = `/workflows/${first.workflowId}/signals`;
    expect((await post(`${path}/approval`, { approved: true, by: 'dee' }, null)).status).toBe(400);
    expect((await post(`${path}/approval`, {}, 'k-1', 'wrong')).status).toBe(403);
    const missing = await post('/workflows/wf-none/signals/approval', {});
    expect(missing.status).toBe(404);
    const wrongName = await post(`${path}/approve`, {});
    expect([
      wrongName.status,
      ((await wrongName.json()) as { error: { field: string } }).error.field,
    ]).toEqual([400, 'name']);
    const sent = await post(`${path}/approval`, { approved: true, by: 'dee' });
    expect([sent.status, await sent.json()]).toEqual([
      202,
      { workflowId: first.workflowId, signal: 'approval', duplicate: false },
    ]);
    expect((await post(`${path}/approval`, { approved: true, by: 'dee' })).status).toBe(200);
    await workflowEnded(orchestrator, first.workflowId);
    const late = await post(`${path}/approval`, { approved: true, by: 'dee' }, 'k-late');
    expect(late.status).toBe(409);
    // From the command topic, as the admin service (or any service) sends it.
    const second = await orchestrator.startWorkflow('approved-purchase', {
      key: 'p-2',
      input: purchaseInput(2),
    });
    await waiting(orchestrator, second.workflowId);
    const control = new WorkflowControl({
      publisher: bus.client(),
      serde,
      service: 'admin-service',
    });
    const target = { workflowId: second.workflowId, entityType: orchestrator.entityType };
    const signal = {
      name: 'approval',
      payload: { approved: true, by: 'eve' },
      requestedBy: 'eve',
      idempotencyKey: 'once',
    };
    expect(await control.signal(target, signal)).toBe('signal-once');
    await control.signal(target, signal);
    expect(await workflowEnded(orchestrator, second.workflowId)).toMatchObject({
      status: 'completed',
      results: { 'await-approval': { approved: true, by: 'eve' } },
    });
  });
});
