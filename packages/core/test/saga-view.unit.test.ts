import { describe, expect, it } from 'vitest';
import { defineSaga, deriveSagaView, type TimelineEntry } from '../src/index.js';

const saga = defineSaga({
  type: 'order-placement',
  startsWith: 'OrderCreated',
  topics: ['orders.order.events', 'inventory.stock.events', 'payment.customer.events'],
  businessKey: 'orderId',
  steps: [
    {
      name: 'reserve-stock',
      participant: 'inventory-service',
      on: ['OrderCreated'],
      success: ['StockReserved'],
      failure: ['StockReservationFailed'],
      compensation: ['StockReleased'],
      deadlineMs: 10_000,
    },
    {
      name: 'authorize-payment',
      participant: 'payment-service',
      on: ['StockReserved'],
      success: ['PaymentAuthorized'],
      failure: ['PaymentFailed'],
      deadlineMs: 10_000,
    },
    {
      name: 'approve-order',
      participant: 'order-service',
      on: ['PaymentAuthorized'],
      success: ['OrderApproved'],
    },
  ],
  outcomes: { completed: ['OrderApproved'], compensated: ['OrderRejected'] },
});

let offset = 0;
const at = (second: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, second)).toISOString();
const entry = (
  type: string,
  second: number,
  participant: string,
  fields: Record<string, string> = {},
): TimelineEntry => ({
  eventId: `e-${type}`,
  type,
  participant,
  entityType: 'x.y',
  entityId: 'o-42',
  topic: 'some.topic',
  partition: 0,
  offset: String(offset++),
  occurredAt: at(second),
  keyFields: { orderId: 'o-42', ...fields },
});

const created = entry('OrderCreated', 0, 'order-service');
const reserved = entry('StockReserved', 1, 'inventory-service');
const authorized = entry('PaymentAuthorized', 2, 'payment-service');
const approved = entry('OrderApproved', 3, 'order-service');
const now = { now: at(59) };

describe('deriveSagaView', () => {
  it('follows the happy path to completed', () => {
    const view = deriveSagaView([saga], 's-1', [created, reserved, authorized, approved], now);
    expect(view).toMatchObject({
      sagaId: 's-1',
      type: 'order-placement',
      status: 'completed',
      businessKey: 'o-42',
      startedAt: at(0),
      updatedAt: at(3),
      endedAt: at(3),
    });
    expect(view.steps.map((s) => [s.name, s.status])).toEqual([
      ['reserve-stock', 'done'],
      ['authorize-payment', 'done'],
      ['approve-order', 'done'],
    ]);
    expect(view.timeline.map((e) => e.type)).toEqual([
      'OrderCreated',
      'StockReserved',
      'PaymentAuthorized',
      'OrderApproved',
    ]);
  });

  it('gives the same view whatever the arrival order, counting duplicates once', () => {
    const inOrder = deriveSagaView([saga], 's-1', [created, reserved, authorized], now);
    const shuffled = deriveSagaView(
      [saga],
      's-1',
      [authorized, reserved, authorized, created, reserved],
      now,
    );
    expect(shuffled).toEqual(inOrder);
    // Before its start event arrives, the saga is already recognised by its other events.
    expect(deriveSagaView([saga], 's-1', [reserved], now).type).toBe('order-placement');
  });

  it('compensates after a refusal and ends compensated', () => {
    const failed = entry('PaymentFailed', 2, 'payment-service', {
      reason: 'credit limit exceeded',
    });
    const compensating = deriveSagaView([saga], 's-1', [created, reserved, failed], now);
    expect(compensating).toMatchObject({ status: 'compensating', error: 'credit limit exceeded' });
    expect(compensating.steps.map((s) => s.status)).toEqual(['done', 'failed', 'pending']);

    const released = entry('StockReleased', 3, 'inventory-service');
    const rejected = entry('OrderRejected', 4, 'order-service', {
      reason: 'credit limit exceeded',
    });
    const view = deriveSagaView(
      [saga],
      's-1',
      [created, reserved, failed, released, rejected],
      now,
    );
    expect(view).toMatchObject({
      status: 'compensated',
      endedAt: at(4),
      error: 'credit limit exceeded',
    });
    expect(view.steps.map((s) => s.status)).toEqual(['compensated', 'failed', 'pending']);
  });

  it('is stuck when the active step has not answered by its deadline', () => {
    const running = deriveSagaView([saga], 's-1', [created, reserved], { now: at(10) });
    expect(running).toMatchObject({
      status: 'running',
      currentStep: 'authorize-payment',
      deadlineAt: at(11),
    });
    const stuck = deriveSagaView([saga], 's-1', [created, reserved], { now: at(11) });
    expect(stuck).toMatchObject({
      status: 'stuck',
      currentStep: 'authorize-payment',
      deadlineAt: at(11),
    });
    // A late answer moves it on.
    expect(
      deriveSagaView([saga], 's-1', [created, reserved, authorized], { now: at(30) }).status,
    ).toBe('running');
  });

  it('tells what a step waits for: its answers while active, its compensation once the saga compensates', () => {
    const stuck = deriveSagaView([saga], 's-1', [created, reserved], { now: at(11) });
    expect(stuck.steps[1]).toMatchObject({
      name: 'authorize-payment',
      participant: 'payment-service',
      status: 'active',
      startedAt: at(1),
      deadlineAt: at(11),
      awaits: ['PaymentAuthorized', 'PaymentFailed'],
    });
    expect(stuck.steps[0]!.awaits).toBeUndefined();
    expect(stuck.steps[2]!.awaits).toBeUndefined();
    const failed = entry('PaymentFailed', 2, 'payment-service', { reason: 'no credit' });
    const compensating = deriveSagaView([saga], 's-1', [created, reserved, failed], {
      now: at(3),
    });
    expect(compensating.status).toBe('compensating');
    expect(compensating.steps[0]).toMatchObject({ status: 'done', awaits: ['StockReleased'] });
    expect(compensating.steps[1]!.awaits).toBeUndefined();
    const released = entry('StockReleased', 3, 'inventory-service');
    const undone = deriveSagaView([saga], 's-1', [created, reserved, failed, released], {
      now: at(4),
    });
    expect(undone.steps.map((s) => s.awaits)).toEqual([undefined, undefined, undefined]);
  });

  it('is compensating once an operator asked for it', () => {
    const request = { at: at(20), by: 'ops', reason: 'customer cancelled' };
    const view = deriveSagaView([saga], 's-1', [created, reserved], {
      now: at(21),
      compensationRequest: request,
    });
    expect(view).toMatchObject({ status: 'compensating', compensationRequest: request });
  });

  it('refuses a bad definition, naming the field', () => {
    const good = {
      type: 'x',
      startsWith: 'A',
      topics: ['t'],
      steps: [{ name: 's', participant: 'p', on: ['A'], success: ['B'] }],
      outcomes: { completed: ['B'], compensated: [] },
    };
    expect(() => defineSaga({ ...good, type: 'Bad Type' })).toThrow(
      /type must be lower-case words/,
    );
    expect(() => defineSaga({ ...good, steps: [] })).toThrow(/steps must list at least one step/);
    expect(() => defineSaga({ ...good, steps: [good.steps[0]!, good.steps[0]!] })).toThrow(
      /steps\[1\]\.name repeats 's'/,
    );
    expect(() => defineSaga({ ...good, steps: [{ ...good.steps[0]!, deadlineMs: -1 }] })).toThrow(
      /steps\[0\]\.deadlineMs must be a positive number/,
    );
    expect(() => defineSaga({ ...good, steps: [{ ...good.steps[0]!, failure: ['B'] }] })).toThrow(
      /steps\[0\]\.failure gives 'B' a second role/,
    );
  });
});
