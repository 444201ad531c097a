import {
  controlSchemasDir,
  noMetrics,
  sagaNoticeTopic,
  deadLetterHeaders,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  SagaflowError,
  SagaflowService,
  type EventSerde,
} from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde, waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';

/** The service that owns the demo's accounts: where the processors' events come from. */
const accountsService = (
  bus: MemoryBus,
  serde: MemorySerde,
  account: ReturnType<typeof demoDomain>['account'],
) =>
  new SagaflowService({
    name: 'accounts',
    store: new MemoryEntityStore(),
    bus,
    serde,
    entities: [account],
  });

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
    const accounts = accountsService(bus, serde, account);
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

  it('waits out a schema registry that does not answer and a workflow version not deployed yet, past its retries, dead-letters neither, and tells the tracker', async () => {
    const { account } = demoDomain('waits');
    const bus = new MemoryBus();
    const serde = new MemorySerde(await loadSchemaCatalog([demoSchemasDir, controlSchemasDir]));
    // What the processor tells the admin's tracker (saga notices).
    const notices: { sagaId: string; type: string; payload: Record<string, unknown> }[] = [];
    await bus.ensureTopics([{ topic: sagaNoticeTopic }]);
    const noticeReader = await bus.subscribe(
      { groupId: 'notice-reader', topics: [sagaNoticeTopic] },
      async (message) => {
        const type = message.headers['sagaflow-event-type']!;
        notices.push({
          sagaId: message.headers['sagaflow-saga-id']!,
          type,
          payload: await serde.decode(type, message.value!),
        });
      },
    );
    await noticeReader.ready;
    // The registry does not answer the first 8 decodes (a schema id this process has not cached).
    let registryDown = 8;
    const flaky: EventSerde = {
      encode: (type, payload) => serde.encode(type, payload),
      decode: (type, value) =>
        registryDown-- > 0
          ? Promise.reject(
              new SagaflowError('SERDE_FAILED', 'schema registry unreachable: ECONNREFUSED', {
                retriable: true,
              }),
            )
          : serde.decode(type, value),
    };
    // The second deposit needs a workflow version that is deployed only after 8 attempts.
    let notDeployed = 8;
    const handled: number[] = [];
    const processor = defineProcessor<{ Deposited: { accountId: string; amount: number } }>({
      name: 'patient',
      topics: [eventsTopic(account.type)],
      handlers: {
        Deposited: (event) => {
          if (event.payload.amount === 2 && notDeployed-- > 0) {
            return Promise.reject(
              new SagaflowError(
                'UNKNOWN_WORKFLOW',
                'order version 2 is not deployed here (deployed: order@1)',
                { retriable: true },
              ),
            );
          }
          handled.push(event.payload.amount);
          return Promise.resolve();
        },
      },
      ignore: ['Flagged'],
    });
    const accounts = accountsService(bus, serde, account);
    // What the metrics are told of messages waiting, by code.
    const waits: string[] = [];
    const patient = new SagaflowService({
      name: 'patient',
      store: new MemoryEntityStore(),
      bus,
      serde: flaky,
      entities: [],
      processors: [processor],
      processing: {
        maxAttempts: 3,
        backoff: { initialMs: 1, maxMs: 5, multiplier: 2 },
        noticeAfterMs: 0,
      },
      metrics: {
        ...noMetrics,
        messageWaiting: ({ code }, change) => void waits.push(`${change > 0 ? '+' : '-'}${code}`),
      },
    });
    await accounts.start();
    await patient.start();
    await accounts.execute(account, 'a', 'Deposit', { amount: 1 }, { sagaId: 'saga-1' });
    await accounts.execute(account, 'a', 'Deposit', { amount: 2 }, { sagaId: 'saga-2' });
    await waitFor(() => handled.length === 2, { timeoutMs: 5000 });
    expect(handled).toEqual([1, 2]);
    // Each wait was visible while it lasted (sagaflow_messages_waiting), and ended.
    expect(waits).toEqual([
      '+SERDE_FAILED',
      '-SERDE_FAILED',
      '+UNKNOWN_WORKFLOW',
      '-UNKNOWN_WORKFLOW',
    ]);
    const ends = await bus.endOffsets(deadLetterTopic(patient.groupOf(processor)));
    expect([...ends.values()].reduce((a, b) => a + b, 0n)).toBe(0n);
    // Each wait was told to the tracker, with what it waited for, and its end.
    await waitFor(() => notices.length === 4, { timeoutMs: 5000 });
    const group = patient.groupOf(processor);
    const bySaga = (sagaId: string) => notices.filter((n) => n.sagaId === sagaId);
    expect(bySaga('saga-1')).toEqual([
      {
        sagaId: 'saga-1',
        type: 'SagaMessageWaiting',
        payload: expect.objectContaining({
          sagaId: 'saga-1',
          group,
          code: 'SERDE_FAILED',
          reason: 'schema registry unreachable: ECONNREFUSED',
          messageType: 'Deposited',
        }) as unknown,
      },
      {
        sagaId: 'saga-1',
        type: 'SagaMessageResumed',
        payload: { sagaId: 'saga-1', group, outcome: 'handled' },
      },
    ]);
    expect(
      bySaga('saga-2').map((n) => [n.type, n.payload['code'] ?? n.payload['outcome']]),
    ).toEqual([
      ['SagaMessageWaiting', 'UNKNOWN_WORKFLOW'],
      ['SagaMessageResumed', 'handled'],
    ]);
    expect(bySaga('saga-2')[0]!.payload['reason']).toBe(
      'order version 2 is not deployed here (deployed: order@1)',
    );
    await noticeReader.stop();
    await patient.stop();
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
    const accounts = accountsService(bus, serde, account);
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
