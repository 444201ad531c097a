import {
  deadLetterHeaders,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  SagaflowService,
} from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde, waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';

describe('processors on the in-memory adapters', () => {
  it('gives handlers typed payloads, headers, and the state of entities', async () => {
    const { account, mirror } = demoDomain('typed');
    const bus = new MemoryBus();
    const serde = new MemorySerde(await loadSchemaCatalog(demoSchemasDir));
    const seen: {
      amount: number;
      balanceBefore: number;
      service: string | undefined;
      saga: string;
    }[] = [];
    const processor = defineProcessor<{ Deposited: { accountId: string; amount: number } }>({
      name: 'observer',
      topics: [eventsTopic(account.type)],
      handlers: {
        Deposited: async (event, context) => {
          const before = await context.load(mirror, event.payload.accountId);
          seen.push({
            amount: event.payload.amount,
            balanceBefore: before.state.balance,
            service: event.headers['sagaflow-service'],
            saga: event.sagaId,
          });
          await context.execute(mirror, event.payload.accountId, 'Record', {
            amount: event.payload.amount,
            sourceVersion: event.version,
          });
        },
      },
      ignore: ['Flagged'],
    });
    const accounts = new SagaflowService({
      name: 'accounts',
      store: new MemoryEntityStore(),
      bus,
      serde,
      entities: [account],
    });
    const observers = new SagaflowService({
      name: 'observers',
      store: new MemoryEntityStore(),
      bus,
      serde,
      entities: [mirror],
      processors: [processor],
    });
    await accounts.start();
    await observers.start();
    await accounts.execute(account, 'a', 'Deposit', { amount: 5 }, { sagaId: 'saga-7' });
    await accounts.execute(account, 'a', 'Flag', {});
    await accounts.execute(account, 'a', 'Deposit', { amount: 7 }, { sagaId: 'saga-8' });
    await waitFor(() => seen.length === 2, { timeoutMs: 5000 });
    expect(seen).toEqual([
      { amount: 5, balanceBefore: 0, service: 'accounts', saga: 'saga-7' },
      { amount: 7, balanceBefore: 5, service: 'accounts', saga: 'saga-8' },
    ]);
    await observers.stop();
    await accounts.stop();
  });

  it('dead-letters an event type it neither handles nor ignores, and goes on', async () => {
    const { account } = demoDomain('strict');
    const bus = new MemoryBus();
    const serde = new MemorySerde(await loadSchemaCatalog(demoSchemasDir));
    const handled: number[] = [];
    const processor = defineProcessor<{ Deposited: { accountId: string; amount: number } }>({
      name: 'strict',
      topics: [eventsTopic(account.type)],
      handlers: {
        Deposited: (event) => {
          handled.push(event.payload.amount);
          return Promise.resolve();
        },
      },
    });
    const accounts = new SagaflowService({
      name: 'accounts',
      store: new MemoryEntityStore(),
      bus,
      serde,
      entities: [account],
    });
    const strict = new SagaflowService({
      name: 'strict',
      store: new MemoryEntityStore(),
      bus,
      serde,
      entities: [],
      processors: [processor],
    });
    await accounts.start();
    await strict.start();
    await accounts.execute(account, 'a', 'Flag', {});
    await accounts.execute(account, 'a', 'Deposit', { amount: 3 });
    await waitFor(() => handled.length === 1, { timeoutMs: 5000 });
    const letters: { headers: Record<string, string> }[] = [];
    const reader = await bus.subscribe(
      { groupId: 'reader', topics: [deadLetterTopic(strict.groupOf(processor))] },
      (m) => {
        letters.push({ headers: { ...m.headers } });
        return Promise.resolve();
      },
    );
    await waitFor(() => letters.length === 1, { timeoutMs: 5000 });
    expect(letters[0]!.headers[deadLetterHeaders.reason]).toMatch(
      /no handler for the event type 'Flagged'/,
    );
    expect(letters[0]!.headers[deadLetterHeaders.errorCode]).toBe('UNKNOWN_EVENT_TYPE');
    await reader.stop();
    await strict.stop();
    await accounts.stop();
  });
});
