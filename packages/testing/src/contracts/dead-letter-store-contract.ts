import type { DeadLetterRecord, DeadLetterStore } from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

/** The behaviour every dead-letter store must have, run against the in-memory and the MongoDB one. */
export function deadLetterStoreContract(
  name: string,
  makeStore: () => DeadLetterStore | Promise<DeadLetterStore>,
) {
  describe(`DeadLetterStore contract: ${name}`, () => {
    const setup = async () => {
      const store = await makeStore();
      await store.prepare();
      await store.prepare();
      const topic = uniqueName('topic');
      const letter = (offset: number, second: number): DeadLetterRecord => ({
        id: `g/${topic}/0/${offset}`,
        group: 'g',
        sourceTopic: topic,
        sourcePartition: 0,
        sourceOffset: String(offset),
        reason: `bad ${offset}`,
        errorCode: 'SERDE_FAILED',
        attempts: 1,
        failedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
        eventType: 'E',
        sagaId: `s-${offset}`,
        key: 'k',
        value: Buffer.from(`v${offset}`).toString('base64'),
        headers: { 'sagaflow-event-type': 'E' },
        replays: [],
      });
      return { store, topic, letter };
    };

    it('records a dead letter once and reads it back whole', async () => {
      const { store, letter } = await setup();
      expect(await store.record(letter(1, 1))).toBe(true);
      expect(await store.record(letter(1, 1))).toBe(false);
      expect(await store.get(letter(1, 1).id)).toEqual(letter(1, 1));
      expect(await store.get(`${letter(1, 1).id}-none`)).toBeUndefined();
    });

    it('lists newest first by source topic, page by page, and keeps who replayed', async () => {
      const { store, topic, letter } = await setup();
      const other = await setup();
      for (let i = 1; i <= 5; i += 1) await store.record(letter(i, i));
      await other.store.record(other.letter(9, 9));
      const first = await store.list({ sourceTopic: topic, limit: 2 });
      expect(first.letters.map((l) => l.sourceOffset)).toEqual(['5', '4']);
      const second = await store.list({ sourceTopic: topic, limit: 2, after: first.next! });
      expect(second.letters.map((l) => l.sourceOffset)).toEqual(['3', '2']);
      const third = await store.list({ sourceTopic: topic, limit: 2, after: second.next! });
      expect(third.letters.map((l) => l.sourceOffset)).toEqual(['1']);
      expect(third.next).toBeUndefined();

      await store.recordReplay(letter(2, 2).id, { by: 'ops', at: '2026-02-01T00:00:00.000Z' });
      await store.recordReplay(letter(2, 2).id, { by: 'ops2', at: '2026-02-02T00:00:00.000Z' });
      expect((await store.get(letter(2, 2).id))?.replays).toEqual([
        { by: 'ops', at: '2026-02-01T00:00:00.000Z' },
        { by: 'ops2', at: '2026-02-02T00:00:00.000Z' },
      ]);
      await expect(store.list({ limit: 2, after: 'garbage' })).rejects.toThrow(/after/);
    });
  });
}
