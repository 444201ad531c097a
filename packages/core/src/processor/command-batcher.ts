import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import type { EntityDefinition } from '../entity/entity.js';
import type { CommandResult } from '../entity/entity-service.js';
import type { ProcessorContext } from './processor.js';

/** Options of {@link commandBatcher}. */
export interface CommandBatcherOptions<T> {
  /**
   * Names an item: items of one key in a batch count once, and a batch's idempotency key is a
   * digest of its items' keys (so a batch sent again with the same items changes nothing twice).
   */
  readonly keyOf: (item: T) => string;
  /**
   * How long a batch stays open for more items after its first one; longer while the entity's
   * batch before it is being written. A full batch goes at once. @default 5
   */
  readonly lingerMs?: number;
  /** The most items in one command; the next item opens another batch. @default 500 */
  readonly maxItems?: number;
}

/**
 * Sends one entity command for what many handlers ask of the same entity at about the same
 * time: each call adds an item to the entity's open batch, and the batch goes as one command
 * (its payload made by `toPayload` from all its items) once it has lingered, one batch per entity
 * at a time, so that the batch waits, filling, while the one before it is written. Each call
 * resolves with the result of the command that carried its item, and rejects if it failed (the
 * processor retries the event, whose item then goes in a later batch).
 *
 * For commands that may carry any set of items and be applied again without harm (the command's
 * handler ignores items it has seen): e.g. a processor that settles each approved order in a
 * customer's state writes once per customer for all the approvals of a fetch, not once per
 * approval. The command's causation key is `<processor>:batch:<command>:<digest of the item
 * keys>`; it is sent through the context of the batch's first item.
 *
 * @example
 * ```ts
 * const settle = commandBatcher(customer, 'Settle', (orderIds) => ({ orderIds }), { keyOf: (id) => id });
 * // in a handler:
 * OrderApproved: async ({ payload }, ctx) => void (await settle(ctx, payload.customerId, payload.orderId)),
 * ```
 */
export function commandBatcher<
  T,
  S,
  C extends Record<string, object>,
  E extends Record<string, object>,
  K extends keyof C & string,
>(
  definition: EntityDefinition<S, C, E>,
  command: K,
  toPayload: (items: readonly T[]) => C[K],
  options: CommandBatcherOptions<T>,
): (ctx: ProcessorContext, entityId: string, item: T) => Promise<CommandResult<S>> {
  const lingerMs = options.lingerMs ?? 5;
  const maxItems = options.maxItems ?? 500;
  if (!Number.isFinite(lingerMs) || lingerMs < 0) {
    throw invalidArgument(
      'lingerMs',
      `must be a number of milliseconds, 0 or more (got ${lingerMs})`,
    );
  }
  if (!Number.isInteger(maxItems) || maxItems < 1) {
    throw invalidArgument('maxItems', `must be a positive integer (got ${maxItems})`);
  }
  interface Batch {
    readonly ctx: ProcessorContext;
    readonly items: Map<string, T>;
    readonly waiters: {
      resolve: (result: CommandResult<S>) => void;
      reject: (error: unknown) => void;
    }[];
    /** Ends the linger (the batch is full). */
    full: () => void;
  }
  /** The batch of each entity that still takes items. */
  const open = new Map<string, Batch>();
  /** The last batch of each entity sent or waiting to be: the next one goes after it. */
  const last = new Map<string, Promise<void>>();

  const send = async (entityId: string, batch: Batch): Promise<void> => {
    if (open.get(entityId) === batch) open.delete(entityId);
    const keys = [...batch.items.keys()].sort();
    const digest = createHash('sha256').update(keys.join('\n')).digest('base64url');
    try {
      const result = await batch.ctx.execute(
        definition,
        entityId,
        command,
        toPayload([...batch.items.values()]),
        { idempotencyKey: `batch:${command}:${digest}` },
      );
      for (const waiter of batch.waiters) waiter.resolve(result);
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  };

  const opened = (ctx: ProcessorContext, entityId: string): Batch => {
    const batch: Batch = { ctx, items: new Map(), waiters: [], full: () => {} };
    open.set(entityId, batch);
    const lingered = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, lingerMs);
      batch.full = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    const before = last.get(entityId) ?? Promise.resolve();
    const sent = Promise.all([before, lingered]).then(() => send(entityId, batch));
    last.set(entityId, sent);
    void sent.then(() => {
      if (last.get(entityId) === sent) last.delete(entityId);
    });
    return batch;
  };

  return (ctx, entityId, item) => {
    const batch = open.get(entityId) ?? opened(ctx, entityId);
    batch.items.set(options.keyOf(item), item);
    const result = new Promise<CommandResult<S>>((resolve, reject) => {
      batch.waiters.push({ resolve, reject });
    });
    if (batch.items.size >= maxItems) {
      open.delete(entityId);
      batch.full();
    }
    return result;
  };
}
