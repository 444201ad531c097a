import {
  commandMessage,
  commandsTopic,
  defineCommandEndpoint,
  eventsTopic,
  headerNames,
  SagaflowService,
  type AppendOutcome,
  type BusMessage,
  type Commit,
  type ReceivedMessage,
  type RelayCheckpoint,
} from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde, waitFor } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { flowSchemaDirs, orderFlow } from '../fixtures/order-flow.js';

/** A store that counts the appends it refused as duplicates. */
class CountingStore extends MemoryEntityStore {
  duplicates = 0;

  override async append<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
    const outcome = await super.append(commit);
    if (outcome.status === 'duplicate') this.duplicates += 1;
    return outcome;
  }
}

/** A bus whose relay publishes (those with a checkpoint) wait while it is held. */
class HeldRelayBus extends MemoryBus {
  held = true;
  #release: (() => void) | undefined;
  readonly #released = new Promise<void>((resolve) => {
    this.#release = resolve;
  });

  release(): void {
    this.held = false;
    this.#release?.();
  }

  override async publish(
    messages: readonly BusMessage[],
    options: {
      readonly checkpoint?: { readonly relayId: string; readonly value: RelayCheckpoint };
    } = {},
  ): Promise<void> {
    if (options.checkpoint !== undefined && this.held) await this.#released;
    return super.publish(messages, options);
  }
}

it("answers a command delivered again only after its commit is published, so an entity's events stay in order", async () => {
  const flow = orderFlow('dupreply');
  const bus = new HeldRelayBus();
  const serde = new MemorySerde(await loadSchemaCatalog(flowSchemaDirs));
  const store = new CountingStore();
  const service = new SagaflowService({
    name: 'participant',
    store,
    bus,
    serde,
    entities: [flow.stock],
    commandEndpoints: [
      defineCommandEndpoint({ entity: flow.stock, commands: { ReserveStock: 'Reserve' } }),
    ],
  });
  await service.start();
  const seen: ReceivedMessage[] = [];
  const reader = await bus.subscribe(
    { groupId: 'reader', topics: [eventsTopic(flow.stock.type)] },
    (message) => {
      seen.push(message);
      return Promise.resolve();
    },
  );
  try {
    // Version 1 (StockSet) and, by a command, version 2 (StockReserved): neither published yet.
    await service.execute(flow.stock, 'sku-a', 'Set', { available: 10 });
    const reserve = {
      orderId: 'o-1',
      customerId: 'c-1',
      items: [{ sku: 'sku-a', quantity: 3, unitPrice: 100 }],
      total: 300,
    };
    const encoded = await serde.encode('ReserveStock', reserve);
    const command = commandMessage(
      {
        commandId: 'cmd-1',
        type: 'ReserveStock',
        entityType: flow.stock.type,
        entityId: 'sku-a',
        sagaId: 'saga-1',
        service: 'orchestrator',
        occurredAt: new Date().toISOString(),
      },
      encoded.value,
      encoded.schema,
    );
    expect(command.topic).toBe(commandsTopic(flow.stock.type));
    await bus.publish([command]);
    await waitFor(async () => (await service.commands.load(flow.stock, 'sku-a')).version === 2, {
      timeoutMs: 5000,
      description: 'the command applied',
    });
    // The same command again (a redelivery): applied once, answered again.
    await bus.publish([command]);
    await waitFor(() => store.duplicates === 1, {
      timeoutMs: 5000,
      description: 'the copy found a duplicate',
    });
    bus.release();
    await waitFor(
      () => seen.filter((m) => m.headers[headerNames.causationId] === 'cmd-1').length >= 2,
      { timeoutMs: 5000, description: 'the reply and its copy' },
    );
    const versions = seen.map((m) => Number(m.headers[headerNames.entityVersion]));
    // Version 1 first: no copy of version 2 overtakes it.
    expect(versions[0]).toBe(1);
    expect(versions.filter((v) => v === 1)).toHaveLength(1);
    expect(versions.filter((v) => v === 2)).toHaveLength(2);
    expect(
      new Set(
        seen
          .filter((m) => m.headers[headerNames.entityVersion] === '2')
          .map((m) => m.headers[headerNames.eventId]),
      ).size,
    ).toBe(1);
  } finally {
    await reader.stop();
    await service.stop();
  }
});
