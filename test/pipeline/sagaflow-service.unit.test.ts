import { SagaflowService } from '@sagaflow/core';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { MemoryBus, MemoryEntityStore, MemorySerde, waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { demoDomain, demoSchemasDir, type MirrorState } from '../fixtures/demo-domain.js';

describe('SagaflowService on the in-memory adapters (the embedded mode)', () => {
  it('runs two services that react to each other, each event applied once', async () => {
    const { account, mirror, mirrorProcessor } = demoDomain('embedded');
    const bus = new MemoryBus();
    const serde = new MemorySerde(await loadSchemaCatalog(demoSchemasDir));
    const accounts = new SagaflowService({
      name: 'accounts',
      store: new MemoryEntityStore(),
      bus,
      serde,
      entities: [account],
    });
    const mirrorStore = new MemoryEntityStore();
    const mirrors = new SagaflowService({
      name: 'mirrors',
      store: mirrorStore,
      bus,
      serde,
      entities: [mirror],
      processors: [mirrorProcessor],
    });
    await accounts.start();
    await mirrors.start();
    expect((await mirrors.readiness()).ready).toBe(true);
    for (let n = 1; n <= 10; n += 1) {
      await accounts.execute(
        account,
        `acc-${n % 2}`,
        'Deposit',
        { amount: n },
        { causationKey: `d${n}` },
      );
    }
    const done = await waitFor(
      async () => {
        const [a, b] = await Promise.all([
          mirrorStore.load<MirrorState>(mirror.type, 'acc-0'),
          mirrorStore.load<MirrorState>(mirror.type, 'acc-1'),
        ]);
        return a?.version === 5 && b?.version === 5 ? [a, b] : undefined;
      },
      { timeoutMs: 5000, description: 'mirrors' },
    );
    expect(done[0]!.state).toEqual({ balance: 2 + 4 + 6 + 8 + 10, applied: [1, 2, 3, 4, 5] });
    await mirrors.stop();
    await accounts.stop();
    expect(await mirrors.readiness()).toMatchObject({
      ready: false,
      checks: { service: { ok: false, error: 'the service is stopped' } },
    });
  });

  it('refuses an event that its schema would refuse, before writing anything', async () => {
    const store = new MemoryEntityStore();
    const { account } = demoDomain('embedded');
    const service = new SagaflowService({
      name: 'accounts',
      store,
      bus: new MemoryBus(),
      serde: new MemorySerde(await loadSchemaCatalog(demoSchemasDir)),
      entities: [account],
    });
    await service.start();
    await expect(service.execute(account, 'acc-1', 'Deposit', { amount: 1.5 })).rejects.toThrow(
      /invalid Deposited: Deposited\.amount: expected "long", got 1\.5/,
    );
    expect(await store.load(account.type, 'acc-1')).toBeUndefined();
    await service.stop();
  });

  it('refuses bad definitions, naming what is wrong', async () => {
    const { account } = demoDomain('embedded');
    const base = {
      store: new MemoryEntityStore(),
      bus: new MemoryBus(),
      serde: new MemorySerde(await loadSchemaCatalog(demoSchemasDir)),
    };
    expect(() => new SagaflowService({ ...base, name: 'Bad Name', entities: [account] })).toThrow(
      /name must be lower-case letters/,
    );
    expect(
      () => new SagaflowService({ ...base, name: 'svc', entities: [account, account] }),
    ).toThrow(/name the entity type 'embedded.account' twice/);
    expect(() => new SagaflowService({ ...base, name: 'svc', entities: [] })).toThrow(
      /entities a service needs at least one entity, processor or view/,
    );
  });
});
