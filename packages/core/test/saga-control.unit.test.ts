import { MemoryEntityStore } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import {
  compensationCausationKey,
  EntityService,
  sagaControl,
  type SagaCompensationRequested,
} from '../src/index.js';

const request = (steps: SagaCompensationRequested['steps']): SagaCompensationRequested => ({
  sagaId: 's-1',
  sagaType: 'order-placement',
  businessKey: 'o-1',
  reason: 'the customer called',
  requestedBy: 'op',
  requestedAt: '2026-01-01T00:00:00.000Z',
  steps,
});

const stock = {
  step: 'reserve-stock',
  participant: 'inventory',
  entityType: 'stock',
  entityId: 'o-1',
};
const payment = { step: 'pay', participant: 'payment', entityType: 'customer', entityId: 'c-1' };

it('publishes a request once, and a later one only with the steps none listed before', async () => {
  const service = new EntityService({ service: 'control', store: new MemoryEntityStore() });
  const ask = async (r: SagaCompensationRequested) => {
    const result = await service.execute(sagaControl, 's-1', 'RequestCompensation', r, {
      sagaId: 's-1',
      causationKey: compensationCausationKey(r),
    });
    // What it publishes: the events of a new commit (none when it changed nothing).
    return result.status === 'committed' ? result.events.map((e) => e.payload) : [];
  };
  expect(await ask(request([stock]))).toEqual([request([stock])]);
  // Sent again: the same key, nothing new.
  expect(await ask(request([stock]))).toEqual([]);
  // The payment was in flight; it completed: only it goes out.
  expect(await ask(request([payment, stock]))).toEqual([request([payment])]);
  expect(await ask(request([stock, payment]))).toEqual([]);
});
