import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import type { EntityServiceProcess } from '@sagaflow/runtime';
import { startServiceInMemory, type ServiceInMemory } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerEntity } from '../src/customer.js';
import { buildPaymentService } from '../src/payment-service.js';

// #region in-memory-service
let running: ServiceInMemory<EntityServiceProcess>;
const customer = customerEntity('payment.customer');

beforeAll(async () => {
  running = await startServiceInMemory(buildPaymentService, { schemaDirs: referenceSchemaDirs });
});
afterAll(() => running.stop());
// #endregion

const put = (path: string, body: unknown) =>
  fetch(`${running.url}${path}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('payment service (in memory)', () => {
  it('sets and reads a customer credit limit, refusing bad input with 400 naming the field', async () => {
    expect((await put('/customers/c-1', { creditLimit: 1000 })).status).toBe(200);
    const read = await fetch(`${running.url}/customers/c-1`);
    expect(await read.json()).toEqual({ customerId: 'c-1', creditLimit: 1000, creditReserved: 0 });
    const bad = await put('/customers/c-1', { creditLimit: -5 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('creditLimit');
    expect((await fetch(`${running.url}/customers/nobody`)).status).toBe(404);
  });

  it('authorizes within the credit, refuses beyond it, answers a repeated request alike and releases', async () => {
    const { sagaflow } = running.service;
    await sagaflow.commands.execute(customer, 'c-2', 'SetCredit', { creditLimit: 1000 });
    const authorize = (orderId: string, amount: number) =>
      sagaflow.commands.execute(customer, 'c-2', 'Authorize', {
        orderId,
        customerId: 'c-2',
        amount,
      });
    const first = await authorize('o-1', 600);
    expect(first.status === 'committed' && first.events.map((e) => e.type)).toEqual([
      'PaymentAuthorized',
    ]);
    const over = await authorize('o-2', 600);
    expect(over.status === 'committed' && over.events[0]).toMatchObject({
      type: 'PaymentFailed',
      payload: { reason: expect.stringMatching(/credit limit exceeded/) as string },
    });
    // A refused order leaves nothing open in the customer's state.
    expect(over.status === 'committed' && Object.keys(over.state.orders)).toEqual(['o-1']);
    const again = await authorize('o-1', 600);
    expect(again.status !== 'rejected' && again.state.creditReserved).toBe(600);
    const released = await sagaflow.commands.execute(customer, 'c-2', 'Release', {
      orderId: 'o-1',
      customerId: 'c-2',
    });
    expect(released.status !== 'rejected' && released.state.creditReserved).toBe(0);
    // A negative amount (never sent by the order service) would lower the credit reserved.
    const negative = await authorize('o-3', -500_000);
    expect(negative.status === 'committed' && negative.events.map((e) => e.type)).toEqual([
      'PaymentFailed',
    ]);
    expect(negative.status !== 'rejected' && negative.state.creditReserved).toBe(0);
    // A refusal's reason is shown in the admin and kept in timelines: it never names the
    // customer, a field marked sensitive.
    const stranger = await sagaflow.commands.execute(customer, 'c-secret-7', 'Authorize', {
      orderId: 'o-4',
      customerId: 'c-secret-7',
      amount: 5,
    });
    expect(stranger.status === 'committed' && stranger.events[0]?.payload).toMatchObject({
      reason: 'unknown customer',
    });
  });
});
