import { MemoryEntityStore } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import {
  defineEntity,
  EntityService,
  eventIdOf,
  reject,
  SagaflowError,
  StateChange,
  traceIdOf,
  type AppendOutcome,
  type Commit,
} from '../src/index.js';

const stock = defineEntity<
  { available: number },
  { Reserve: { quantity: number }; Restock: { quantity: number } },
  { StockReserved: { quantity: number }; Restocked: { quantity: number } }
>({
  type: 'inventory.stock',
  initialState: () => ({ available: 0 }),
  commands: {
    Reserve: (state, { quantity }) =>
      quantity > state.available
        ? reject('not enough stock', { available: state.available })
        : [{ type: 'StockReserved', payload: { quantity } }],
    Restock: (_state, { quantity }) => [{ type: 'Restocked', payload: { quantity } }],
  },
  evolve: (state, event) => ({
    available:
      event.type === 'Restocked'
        ? state.available + event.payload.quantity
        : state.available - event.payload.quantity,
  }),
});

const clock = () => new Date('2026-11-26T10:00:00.000Z');

describe('EntityService', () => {
  it('runs the commands of one entity one at a time: commands made together never conflict with each other', async () => {
    const outcomes: string[] = [];
    const store = new (class extends MemoryEntityStore {
      override async append<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
        const outcome = await super.append(commit);
        outcomes.push(outcome.status);
        return outcome;
      }
    })();
    const service = new EntityService({ store, service: 'inventory-service', clock });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => service.execute(stock, 'sku-1', 'Restock', { quantity: 1 })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill('committed'));
    expect(outcomes).toEqual(Array(20).fill('appended'));
    // Other entities' commands still go side by side with them.
    expect((await service.load(stock, 'sku-1')).state).toEqual({ available: 20 });
  });

  it('commits events with a full envelope: deterministic ids, saga, causation, trace', async () => {
    const store = new MemoryEntityStore();
    const service = new EntityService({ store, service: 'inventory-service', clock });
    const result = await service.execute(
      stock,
      'sku-1',
      'Restock',
      { quantity: 5 },
      {
        causationKey: 'http-1',
        sagaId: 'saga-1',
      },
    );
    expect(result).toMatchObject({
      status: 'committed',
      version: 1,
      state: { available: 5 },
      sagaId: 'saga-1',
    });
    if (!('events' in result)) throw new Error('unreachable');
    const [event] = result.events;
    expect(event).toMatchObject({
      eventId: eventIdOf('inventory.stock', 'sku-1', 1, 0),
      type: 'Restocked',
      entityType: 'inventory.stock',
      entityId: 'sku-1',
      version: 1,
      index: 0,
      payload: { quantity: 5 },
      metadata: { sagaId: 'saga-1', causationId: 'http-1', service: 'inventory-service' },
      occurredAt: '2026-11-26T10:00:00.000Z',
    });
    expect(event!.eventId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(event!.metadata.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('continues the trace of the causing message', async () => {
    const service = new EntityService({ store: new MemoryEntityStore(), service: 's' });
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const result = await service.execute(
      stock,
      'sku-1',
      'Restock',
      { quantity: 1 },
      { traceparent: parent },
    );
    if (!('events' in result)) throw new Error('unreachable');
    const traceparent = result.events[0]!.metadata.traceparent!;
    expect(traceIdOf(traceparent)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceparent).not.toBe(parent);
  });

  it('returns a rejection without writing anything', async () => {
    const store = new MemoryEntityStore();
    const service = new EntityService({ store, service: 's' });
    const result = await service.execute(stock, 'sku-1', 'Reserve', { quantity: 3 });
    expect(result).toMatchObject({
      status: 'rejected',
      version: 0,
      rejection: { reason: 'not enough stock', details: { available: 0 } },
    });
    expect(await store.load(stock.type, 'sku-1')).toBeUndefined();
  });

  it('returns the first result for a command sent again with the same causation key', async () => {
    const service = new EntityService({ store: new MemoryEntityStore(), service: 's' });
    const first = await service.execute(
      stock,
      'sku-1',
      'Restock',
      { quantity: 2 },
      { causationKey: 'k' },
    );
    const again = await service.execute(
      stock,
      'sku-1',
      'Restock',
      { quantity: 2 },
      { causationKey: 'k' },
    );
    expect(again).toMatchObject({ status: 'duplicate', version: 1, state: { available: 2 } });
    if (!('events' in first) || !('events' in again)) throw new Error('unreachable');
    expect(again.events).toEqual(first.events);
    expect(again.sagaId).toBe(first.sagaId);
  });

  it('records a refused command from a command topic as its CommandRejected reply, once', async () => {
    const store = new MemoryEntityStore();
    const service = new EntityService({ store, service: 's' });
    const origin = {
      causationKey: 'command:c-1',
      causationId: 'c-1',
      replyToCommand: { commandId: 'c-1', commandType: 'ReserveStock' },
    };
    const first = await service.execute(stock, 'sku-1', 'Reserve', { quantity: 3 }, origin);
    expect(first).toMatchObject({
      status: 'rejected',
      version: 1,
      rejection: { reason: 'not enough stock' },
    });
    const again = await service.execute(stock, 'sku-1', 'Reserve', { quantity: 3 }, origin);
    expect(again).toMatchObject({ status: 'duplicate', version: 1, state: { available: 0 } });
    if (!('events' in again)) throw new Error('unreachable');
    expect(again.events.map((e) => [e.type, e.payload])).toEqual([
      [
        'CommandRejected',
        { commandId: 'c-1', commandType: 'ReserveStock', reason: 'not enough stock' },
      ],
    ]);
    expect(await store.load(stock.type, 'sku-1')).toEqual({ state: { available: 0 }, version: 1 });
  });

  it('marks as replayable only the commits whose state evolve derives from their events', async () => {
    const store = new MemoryEntityStore();
    const commits: Commit[] = [];
    const service = new EntityService({
      store,
      service: 's',
      onCommitted: (commit) => commits.push(commit),
    });
    const settable = defineEntity<{ n: number }, { Set: { n: number } }, { Set: { n: number } }>({
      type: 'test.settable',
      initialState: () => ({ n: 0 }),
      commands: {
        Set: (_state, { n }) => new StateChange({ n }, [{ type: 'Set', payload: { n } }]),
      },
      evolve: (state) => state,
    });
    await service.execute(stock, 'sku-1', 'Restock', { quantity: 1 });
    // A reply to a command from a command topic: the state stays, the reply is not an event of it.
    await service.execute(
      stock,
      'sku-1',
      'Reserve',
      { quantity: 9 },
      {
        causationKey: 'command:c-9',
        replyToCommand: { commandId: 'c-9', commandType: 'ReserveStock' },
      },
    );
    await service.execute(settable, 'x', 'Set', { n: 3 });
    expect(commits.map((c) => [c.entityId, c.version, c.replayable === true])).toEqual([
      ['sku-1', 1, true],
      ['sku-1', 2, false],
      ['x', 1, false],
    ]);
  });

  it('starts from what the store saw last with a beforeAppend hook only when the hook tolerates conflicts', async () => {
    const staleStarts = async (tolerates: boolean | undefined) => {
      const asked: boolean[] = [];
      const store = new (class extends MemoryEntityStore {
        override load<S>(type: string, id: string, options?: { readonly mayBeStale?: boolean }) {
          asked.push(options?.mayBeStale === true);
          return super.load<S>(type, id);
        }
      })();
      const service = new EntityService({
        store,
        service: 's',
        beforeAppend: () => Promise.resolve(),
        ...(tolerates === undefined ? {} : { beforeAppendToleratesConflicts: tolerates }),
      });
      await service.execute(stock, 'sku-1', 'Restock', { quantity: 1 });
      return asked;
    };
    expect(await staleStarts(undefined)).toEqual([false]);
    expect(await staleStarts(true)).toEqual([true]);
  });

  it('gives up with a retriable CONCURRENCY_CONFLICT when it keeps losing the race', async () => {
    /** A store on which another writer always takes the version first. */
    class AlwaysBeaten extends MemoryEntityStore {
      override append<S>(_commit: Commit<S>): Promise<AppendOutcome<S>> {
        return Promise.resolve({ status: 'conflict' });
      }
    }
    const losing = new AlwaysBeaten();
    const service = new EntityService({
      store: losing,
      service: 's',
      maxAttempts: 3,
      backoff: { initialMs: 1, maxMs: 1, multiplier: 1 },
    });
    const error = await service
      .execute(stock, 'sku-1', 'Restock', { quantity: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SagaflowError);
    expect(error).toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      retriable: true,
      context: { entityType: 'inventory.stock', entityId: 'sku-1' },
    });
    expect((error as Error).message).toMatch(/lost the race for version 1 3 times/);
  });

  it('refuses bad input, naming the field', async () => {
    const service = new EntityService({ store: new MemoryEntityStore(), service: 's' });
    await expect(service.execute(stock, '', 'Restock', { quantity: 1 })).rejects.toThrow(
      /entityId must be 1 to 200 characters/,
    );
    await expect(service.execute(stock, 'a b', 'Restock', { quantity: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      context: { field: 'entityId' },
    });
    await expect(
      service.execute(stock, 'sku', 'Restock', { quantity: 1 }, { causationKey: ' ' }),
    ).rejects.toThrow(/causationKey must be/);
    await expect(
      service.execute(stock, 'sku', 'Steal' as 'Restock', { quantity: 1 }),
    ).rejects.toThrow(/inventory\.stock has no command 'Steal' \(known: Reserve, Restock\)/);
    expect(() => new EntityService({ store: new MemoryEntityStore(), service: ' ' })).toThrow(
      /service must be a non-empty string/,
    );
    expect(
      () => new EntityService({ store: new MemoryEntityStore(), service: 's', maxAttempts: 0 }),
    ).toThrow(/maxAttempts must be a positive integer/);
  });

  it('refuses a bad entity definition, naming the field', () => {
    const good = {
      type: 'a.b',
      initialState: () => ({}),
      commands: { Do: () => [] },
      evolve: (s: object) => s,
    };
    expect(() => defineEntity({ ...good, type: 'Orders' })).toThrow(
      /type must be '<domain>\.<entity>'/,
    );
    expect(() => defineEntity({ ...good, commands: {} })).toThrow(
      /commands must define at least one command/,
    );
    expect(() => defineEntity({ ...good, evolve: undefined as never })).toThrow(
      /evolve must be a function/,
    );
  });
});
