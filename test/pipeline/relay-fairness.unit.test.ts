import { eventsTopic, OutboxRelay } from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde } from '@sagaflow/testing';
import { expect, it } from 'vitest';
import { demoDomain, demoSchemasDir } from '../fixtures/demo-domain.js';
import { depositCommit } from '../fixtures/deposit-commit.js';

it('publishes every entity type while another keeps more than a batch waiting', async () => {
  const { account, mirror } = demoDomain('fair');
  const store = new MemoryEntityStore();
  const bus = new MemoryBus();
  // The first entity type has three batches waiting; the second, one commit.
  for (let v = 1; v <= 6; v += 1) await store.append(depositCommit(account.type, 'busy', v));
  await store.append(depositCommit(mirror.type, 'quiet', 1));
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
