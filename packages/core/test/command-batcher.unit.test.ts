import { MemoryEntityStore } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import {
  commandBatcher,
  defineEntity,
  EntityService,
  SagaflowError,
  StateChange,
  type ProcessorContext,
} from '../src/index.js';

/** Open tabs by id; `Close` takes any set of ids and ignores those not open (a silent change). */
const tabs = defineEntity<
  { open: Record<string, true>; closed: number },
  { Open: { id: string }; Close: { ids: string[] } },
  { TabOpened: { id: string } }
>({
  type: 'test.tabs',
  initialState: () => ({ open: {}, closed: 0 }),
  commands: {
    Open: (_state, { id }) => [{ type: 'TabOpened', payload: { id } }],
    Close: (state, { ids }) => {
      const open = { ...state.open };
      const closing = ids.filter((id) => open[id] !== undefined);
      if (closing.length === 0) return [];
      for (const id of closing) delete open[id];
      return new StateChange({ open, closed: state.closed + closing.length }, []);
    },
  },
  evolve: (state, event) => ({ ...state, open: { ...state.open, [event.payload.id]: true } }),
});

/** A processor's context over an entity service, with the processor's causation keys. */
function contextOf(service: EntityService, failNext = { count: 0 }): ProcessorContext {
  return {
    load: (definition, entityId) => service.load(definition, entityId),
    execute: (definition, entityId, command, payload, options) => {
      if (failNext.count > 0) {
        failNext.count -= 1;
        return Promise.reject(new SagaflowError('STORE_UNAVAILABLE', 'down', { retriable: true }));
      }
      return service.execute(definition, entityId, command, payload, {
        causationKey: `closer:${options?.idempotencyKey ?? 'none'}`,
      });
    },
  };
}

async function opened(service: EntityService, entityId: string, ids: readonly string[]) {
  for (const id of ids) await service.execute(tabs, entityId, 'Open', { id });
}

const ids = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A service with tabs open on entities (`{ a: 3 }`: t0, t1, t2 on `a`), a batcher closing them. */
async function setup(
  open: Record<string, number>,
  options: { lingerMs?: number; maxItems?: number } = {},
  failNext = { count: 0 },
) {
  const service = new EntityService({ store: new MemoryEntityStore(), service: 'test' });
  for (const [entityId, n] of Object.entries(open)) await opened(service, entityId, ids(n));
  const close = commandBatcher(tabs, 'Close', (items: readonly string[]) => ({ ids: [...items] }), {
    keyOf: (id) => id,
    ...options,
  });
  return { service, close, ctx: contextOf(service, failNext) };
}

describe('commandBatcher', () => {
  it('sends the items that many handlers add for one entity at once as one command', async () => {
    const { service, close, ctx } = await setup({ a: 20, b: 5 });
    const results = await Promise.all([
      ...ids(20).map((id) => close(ctx, 'a', id)),
      ...ids(5).map((id) => close(ctx, 'b', id)),
    ]);
    expect(results.every((r) => r.status === 'committed')).toBe(true);
    // One write per entity: version 20 + 1 and 5 + 1.
    expect(await service.load(tabs, 'a')).toMatchObject({
      version: 21,
      state: { open: {}, closed: 20 },
    });
    expect(await service.load(tabs, 'b')).toMatchObject({
      version: 6,
      state: { open: {}, closed: 5 },
    });
  });

  it('fills the next batch while one is written, one batch of an entity at a time', async () => {
    const { service, close, ctx } = await setup({ a: 10 }, { lingerMs: 20 });
    const first = close(ctx, 'a', 't0');
    // Added after the first batch has gone (its linger is over), before it is written.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const rest = ids(9).map((_, i) => close(ctx, 'a', `t${i + 1}`));
    await Promise.all([first, ...rest]);
    expect(await service.load(tabs, 'a')).toMatchObject({ version: 12, state: { closed: 10 } });
  });

  it('counts an item once per batch, and items sent again change nothing twice', async () => {
    const { service, close, ctx } = await setup({ a: 3 });
    await Promise.all(['t0', 't1', 't1', 't0'].map((id) => close(ctx, 'a', id)));
    expect(await service.load(tabs, 'a')).toMatchObject({ version: 4, state: { closed: 2 } });
    // The same items again (e.g. their events redelivered).
    await Promise.all(['t1', 't0'].map((id) => close(ctx, 'a', id)));
    expect(await service.load(tabs, 'a')).toMatchObject({ version: 4, state: { closed: 2 } });
  });

  it('splits batches at maxItems', async () => {
    const { service, close, ctx } = await setup({ a: 7 }, { maxItems: 3 });
    await Promise.all(ids(7).map((id) => close(ctx, 'a', id)));
    // 3 + 3 + 1.
    expect(await service.load(tabs, 'a')).toMatchObject({ version: 10, state: { closed: 7 } });
  });

  it('sends a full batch at once, without waiting for its linger', async () => {
    const { service, close, ctx } = await setup({ a: 3 }, { lingerMs: 60_000, maxItems: 3 });
    await Promise.all(ids(3).map((id) => close(ctx, 'a', id)));
    expect(await service.load(tabs, 'a')).toMatchObject({ version: 4, state: { closed: 3 } });
  });

  it('rejects every call of a batch that failed; the items go again in a later batch', async () => {
    const failing = { count: 1 };
    const { service, close, ctx } = await setup({ a: 4 }, {}, failing);
    const first = await Promise.allSettled(ids(4).map((id) => close(ctx, 'a', id)));
    expect(first.every((r) => r.status === 'rejected')).toBe(true);
    expect((await service.load(tabs, 'a')).version).toBe(4);
    await Promise.all(ids(4).map((id) => close(ctx, 'a', id)));
    expect(await service.load(tabs, 'a')).toMatchObject({ version: 5, state: { closed: 4 } });
  });

  it('refuses bad options, naming them', () => {
    const payload = (items: readonly string[]) => ({ ids: [...items] });
    expect(() => commandBatcher(tabs, 'Close', payload, { keyOf: String, lingerMs: -1 })).toThrow(
      /lingerMs/,
    );
    expect(() => commandBatcher(tabs, 'Close', payload, { keyOf: String, maxItems: 0 })).toThrow(
      /maxItems/,
    );
  });
});
