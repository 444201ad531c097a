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

/**
 * A participant owning `<domain>.stock` with its command endpoint, started on the bus, and a
 * reader of the stock's events (what the participant answers).
 */
async function participant(
  domain: string,
  bus: MemoryBus,
  store: MemoryEntityStore,
  commands: Record<string, 'Reserve' | 'Release'>,
) {
  const flow = orderFlow(domain);
  const serde = new MemorySerde(await loadSchemaCatalog(flowSchemaDirs));
  const service = new SagaflowService({
    name: 'participant',
    store,
    bus,
    serde,
    entities: [flow.stock],
    commandEndpoints: [defineCommandEndpoint({ entity: flow.stock, commands })],
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
  return {
    flow,
    serde,
    service,
    seen,
    stop: async () => {
      await reader.stop();
      await service.stop();
    },
  };
}

it("answers a command delivered again only after its commit is published, so an entity's events stay in order", async () => {
  const bus = new HeldRelayBus();
  const store = new CountingStore();
  const { flow, serde, service, seen, stop } = await participant('dupreply', bus, store, {
    ReserveStock: 'Reserve',
  });
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
    await stop();
  }
});

it("applies a workflow step once however many of its attempts arrive, and answers each with the first attempt's reply", async () => {
  const bus = new MemoryBus();
  const { flow, serde, service, seen, stop } = await participant(
    'attempts',
    bus,
    new MemoryEntityStore(),
    { ReserveStock: 'Reserve', ReleaseStock: 'Release' },
  );
  try {
    await service.execute(flow.stock, 'sku-a', 'Set', { available: 10 });
    const encoded = await serde.encode('ReserveStock', {
      orderId: 'o-1',
      customerId: 'c-1',
      items: [{ sku: 'sku-a', quantity: 3, unitPrice: 100 }],
      total: 300,
    });
    const workflowId = `wf-${'a'.repeat(32)}`;
    // A slow participant: the orchestrator's step timed out twice, so three attempts of step 0
    // wait on the topic together.
    const attempts = [1, 2, 3].map((attempt) =>
      commandMessage(
        {
          commandId: `${workflowId}:s0.${attempt}`,
          type: 'ReserveStock',
          entityType: flow.stock.type,
          entityId: 'sku-a',
          sagaId: workflowId,
          service: 'orchestrator',
          occurredAt: new Date().toISOString(),
        },
        encoded.value,
        encoded.schema,
      ),
    );
    await bus.publish(attempts);
    await waitFor(
      () => seen.filter((m) => m.headers[headerNames.sagaId] === workflowId).length >= 3,
      {
        timeoutMs: 5000,
        description: 'an answer to each attempt',
      },
    );
    const { state, version } = await service.commands.load(flow.stock, 'sku-a');
    expect(version).toBe(2);
    expect(state.available).toBe(7);
    const answers = seen.filter((m) => m.headers[headerNames.sagaId] === workflowId);
    expect(new Set(answers.map((m) => m.headers[headerNames.eventId])).size).toBe(1);
    expect(answers.map((m) => m.headers[headerNames.causationId])).toEqual(
      Array(3).fill(`${workflowId}:s0.1`),
    );
    // A compensation of the step is a command of its own, applied once too.
    const release = await serde.encode('ReleaseStock', { orderId: 'o-1', reason: 'compensate' });
    await bus.publish(
      [1, 2].map((attempt) =>
        commandMessage(
          {
            commandId: `${workflowId}:c0.${attempt}`,
            type: 'ReleaseStock',
            entityType: flow.stock.type,
            entityId: 'sku-a',
            sagaId: workflowId,
            service: 'orchestrator',
            occurredAt: new Date().toISOString(),
          },
          release.value,
          release.schema,
        ),
      ),
    );
    await waitFor(
      () => seen.filter((m) => m.headers[headerNames.sagaId] === workflowId).length >= 5,
      {
        timeoutMs: 5000,
        description: 'an answer to each compensation attempt',
      },
    );
    const after = await service.commands.load(flow.stock, 'sku-a');
    expect(after).toMatchObject({ version: 3, state: { available: 10 } });
  } finally {
    await stop();
  }
});
