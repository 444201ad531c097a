import { eventsTopic, OutboxRelay, type Commit } from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';

it('publishes every entity type while another keeps more than a batch waiting', async () => {
  const { account, mirror } = demoDomain('fair');
  const store = new MemoryEntityStore();
  const bus = new MemoryBus();
  const deposit = (entityType: string, entityId: string, version: number): Commit => ({
    entityType,
    entityId,
    version,
    state: {},
    causationKey: `${entityId}-${version}`,
    committedAt: new Date().toISOString(),
    events: [
      {
        eventId: `${entityType}/${entityId}/${version}/0`,
        type: 'Deposited',
        entityType,
        entityId,
        version,
        index: 0,
        payload: { accountId: entityId, amount: 1 },
        metadata: { sagaId: 's', causationId: 'c', service: 'test' },
        occurredAt: new Date().toISOString(),
      },
    ],
  });
  // The first entity type has three batches waiting; the second, one commit.
  for (let v = 1; v <= 6; v += 1) await store.append(deposit(account.type, 'busy', v));
  await store.append(deposit(mirror.type, 'quiet', 1));
  const relay = new OutboxRelay({
    relayId: 'fair-relay',
    store,
    publisher: bus,
    serde: new MemorySerde(await loadSchemaCatalog(demoSchemasDir)),
    entityTypes: [account.type, mirror.type],
    batchSize: 2,
    // Each round reads the outboxes (nothing is handed over in memory here).
    idleMs: 0,
  });
  const published = () =>
    bus.endOffsets(eventsTopic(mirror.type)).then((ends) => [...ends.values()].some((n) => n > 0n));
  expect(await relay.runOnce()).toBe(2);
  expect(await relay.runOnce()).toBeGreaterThan(0);
  // Within two rounds, not after the busy type has drained (three rounds).
  expect(await published()).toBe(true);
});
