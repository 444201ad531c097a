import type { DurableTimer, TimerStore } from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();

/** The behaviour every timer store must have, run against the in-memory and the MongoDB one. */
export function timerStoreContract(
  name: string,
  makeStore: () => TimerStore | Promise<TimerStore>,
) {
  describe(`TimerStore contract: ${name}`, () => {
    const setup = async () => {
      const store = await makeStore();
      await store.prepare();
      await store.prepare();
      const owner = uniqueName('owner');
      const timer = (id: string, second: number): DurableTimer => ({
        id: `${owner}-${id}`,
        owner,
        workflowId: `wf-${id}`,
        dueAt: at(second),
      });
      return { store, owner, timer };
    };

    it('finds due timers of its owner, earliest first, up to the limit', async () => {
      const { store, owner, timer } = await setup();
      const other = await setup();
      await store.schedule(timer('c', 30));
      await store.schedule(timer('a', 10));
      await store.schedule(timer('b', 20));
      await other.store.schedule(other.timer('x', 5));
      expect(await store.due(owner, at(20), 10)).toEqual([timer('a', 10), timer('b', 20)]);
      expect(await store.due(owner, at(40), 2)).toEqual([timer('a', 10), timer('b', 20)]);
      expect(await store.due(owner, at(9), 10)).toEqual([]);
      expect(await store.next(owner)).toEqual(timer('a', 10));
    });

    it('keeps the first of two timers with one id, and deletes idempotently', async () => {
      const { store, owner, timer } = await setup();
      await store.schedule(timer('a', 10));
      await store.schedule({ ...timer('a', 10), dueAt: at(50) });
      expect(await store.due(owner, at(59), 10)).toEqual([timer('a', 10)]);
      await store.delete([timer('a', 10).id, 'no-such-timer']);
      await store.delete([timer('a', 10).id]);
      await store.delete([]);
      expect(await store.due(owner, at(59), 10)).toEqual([]);
      expect(await store.next(owner)).toBeUndefined();
    });

    it('postpones a timer that failed to fire behind the later ones, and nothing that is gone', async () => {
      const { store, owner, timer } = await setup();
      await store.schedule(timer('a', 10));
      await store.schedule(timer('b', 20));
      await store.postpone(timer('a', 10).id, at(30));
      expect(await store.due(owner, at(25), 10)).toEqual([timer('b', 20)]);
      expect(await store.due(owner, at(30), 10)).toEqual([timer('b', 20), timer('a', 30)]);
      expect(await store.next(owner)).toEqual(timer('b', 20));
      await store.delete([timer('b', 20).id]);
      await store.postpone(timer('b', 20).id, at(40));
      expect(await store.due(owner, at(59), 10)).toEqual([timer('a', 30)]);
    });

    it('schedules and deletes many timers at once, each as if alone', async () => {
      const { store, owner, timer } = await setup();
      const ids = Array.from({ length: 30 }, (_, i) => String(i).padStart(2, '0'));
      // Concurrently, one id twice (the first one stays) and one stored before.
      await store.schedule(timer('05', 5));
      await Promise.all([
        ...ids.map((id) => store.schedule(timer(id, Number(id)))),
        store.schedule({ ...timer('07', 7), dueAt: at(59) }),
      ]);
      expect((await store.due(owner, at(59), 100)).map((t) => t.dueAt)).toEqual(
        ids.map((id) => at(Number(id))),
      );
      await Promise.all(ids.slice(0, 20).map((id) => store.delete([timer(id, 0).id])));
      expect(await store.due(owner, at(59), 100)).toEqual(
        ids.slice(20).map((id) => timer(id, Number(id))),
      );
    });
  });
}
