import { CommitCompactor, eventsTopic } from '@sagaflow/core';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deposit,
  mirrors,
  startPipeline,
  uniqueDomain,
  type Pipeline,
} from '../fixtures/pipeline.js';

const FAR_FUTURE = '2100-01-01T00:00:00.000Z';

describe('commit compaction keeps the dedupe records bounded, and exact', () => {
  let p: Pipeline;
  let group: string;

  beforeAll(async () => {
    p = await startPipeline(testEnv(), {
      domain: uniqueDomain(),
      database: uniqueDatabase('compact'),
    });
    group = p.runtime.groupOf(p.mirrorProcessor);
    p.relay.start();
    await p.startProcessor(p.mirrorProcessor);
    await deposit(p, 3, 6);
    await waitFor(async () => (await mirrors(p, 3)).every((m) => m?.version === 6), {
      timeoutMs: 30_000,
      description: 'every deposit mirrored',
    });
  });

  afterAll(async () => {
    await p.stop();
  });

  const history = async (entityType: string) =>
    (await p.store.compactable(entityType, FAR_FUTURE, 1000)).map(
      (c) => `${c.entityId}@${c.version}`,
    );

  it('keeps everything younger than the minimum retention', async () => {
    const compactor = new CommitCompactor({
      store: p.store,
      offsets: p.bus,
      entityTypes: [p.account.type, p.mirror.type],
      minRetentionMs: 3_600_000,
    });
    expect(await compactor.runOnce()).toBe(0);
  });

  it('forgets published history once the causing messages are behind the committed offsets', async () => {
    const compactor = new CommitCompactor({
      store: p.store,
      offsets: p.bus,
      entityTypes: [p.account.type, p.mirror.type],
      minRetentionMs: 0,
    });
    // Only published commits are compactable: wait until the relay has published everything too
    // (on a busy machine it may still hold some, which would come up as history later).
    const settled = async (type: string) =>
      (await p.store.outboxBacklog(type)).pending === 0 && (await history(type)).length === 0;
    await waitFor(
      async () => {
        await compactor.runOnce();
        return (await settled(p.mirror.type)) && (await settled(p.account.type));
      },
      { timeoutMs: 30_000, description: 'the history to be compacted' },
    );
    // The state survives: the latest commit of every entity stays.
    for (const mirror of await mirrors(p, 3)) {
      expect(mirror).toMatchObject({ version: 6, state: { applied: [1, 2, 3, 4, 5, 6] } });
    }
    const committed = await p.bus.committedOffsets(group, eventsTopic(p.account.type));
    expect(committed.size).toBeGreaterThan(0);
  });

  it('keeps a commit whose causing message could still be delivered again', async () => {
    const topic = eventsTopic(p.account.type);
    const ahead = { group, topic, partition: 0, offset: '999999999' };
    const base = {
      entityType: p.mirror.type,
      entityId: 'acc-ahead',
      events: [],
      committedAt: '2020-01-01T00:00:00.000Z',
    };
    await p.store.append({
      ...base,
      version: 1,
      state: { balance: 0, applied: [] },
      causationKey: 'k1',
      source: ahead,
    });
    await p.store.append({
      ...base,
      version: 2,
      state: { balance: 0, applied: [] },
      causationKey: 'k2',
    });
    await p.store.markPublished(p.mirror.type, [
      { entityId: 'acc-ahead', version: 1, causationKey: 'k1' },
    ]);
    const compactor = new CommitCompactor({
      store: p.store,
      offsets: p.bus,
      entityTypes: [p.mirror.type],
      minRetentionMs: 0,
    });
    await compactor.runOnce();
    expect(await history(p.mirror.type)).toEqual(['acc-ahead@1']);
    // Its key still refuses a redelivery.
    expect(
      await p.store.append({
        ...base,
        version: 3,
        state: { balance: 0, applied: [] },
        causationKey: 'k1',
      }),
    ).toMatchObject({
      status: 'duplicate',
    });
  });

  it('refuses a negative retention, naming it', () => {
    expect(
      () =>
        new CommitCompactor({
          store: p.store,
          offsets: p.bus,
          entityTypes: [],
          minRetentionMs: -1,
        }),
    ).toThrow(/minRetentionMs must be a non-negative number/);
  });
});
