import type { DurableTimer, TimerStore } from '@sagaflow/core';

const byDue = (a: DurableTimer, b: DurableTimer) =>
  a.dueAt === b.dueAt ? (a.id < b.id ? -1 : 1) : a.dueAt < b.dueAt ? -1 : 1;

/** {@link TimerStore} in memory, for unit tests and the embedded demo. */
export class MemoryTimerStore implements TimerStore {
  readonly #timers = new Map<string, DurableTimer>();

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  schedule(timer: DurableTimer): Promise<void> {
    if (!this.#timers.has(timer.id)) this.#timers.set(timer.id, { ...timer });
    return Promise.resolve();
  }

  due(owner: string, now: string, limit: number): Promise<DurableTimer[]> {
    return Promise.resolve(
      [...this.#timers.values()]
        .filter((t) => t.owner === owner && t.dueAt <= now)
        .sort(byDue)
        .slice(0, limit),
    );
  }

  next(owner: string): Promise<DurableTimer | undefined> {
    return Promise.resolve(
      [...this.#timers.values()].filter((t) => t.owner === owner).sort(byDue)[0],
    );
  }

  postpone(id: string, dueAt: string): Promise<void> {
    const timer = this.#timers.get(id);
    if (timer !== undefined) this.#timers.set(id, { ...timer, dueAt });
    return Promise.resolve();
  }

  delete(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#timers.delete(id);
    return Promise.resolve();
  }
}
