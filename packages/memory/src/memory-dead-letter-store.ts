import {
  pageCursor,
  parsePageCursor,
  type DeadLetterRecord,
  type DeadLetterStore,
} from '@sagaflow/core';

/** In-memory dead-letter index, for fast tests and the embedded demo. */
export class MemoryDeadLetterStore implements DeadLetterStore {
  readonly #letters = new Map<string, DeadLetterRecord>();

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  record(letter: DeadLetterRecord): Promise<boolean> {
    if (this.#letters.has(letter.id)) return Promise.resolve(false);
    this.#letters.set(letter.id, structuredClone(letter));
    return Promise.resolve(true);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- errors must arrive as rejections
  async list(query: {
    sourceTopic?: string;
    limit: number;
    after?: string;
  }): Promise<{ letters: DeadLetterRecord[]; next?: string }> {
    const after = query.after === undefined ? undefined : parsePageCursor(query.after);
    const newestFirst = (a: DeadLetterRecord, b: DeadLetterRecord) =>
      a.failedAt !== b.failedAt ? (a.failedAt < b.failedAt ? 1 : -1) : a.id < b.id ? 1 : -1;
    const matching = [...this.#letters.values()]
      .filter((l) => query.sourceTopic === undefined || l.sourceTopic === query.sourceTopic)
      .filter(
        (l) =>
          after === undefined ||
          l.failedAt < after[0] ||
          (l.failedAt === after[0] && l.id < after[1]),
      )
      .sort(newestFirst);
    const letters = structuredClone(matching.slice(0, query.limit));
    const last = letters.at(-1);
    return matching.length > query.limit && last !== undefined
      ? { letters, next: pageCursor(last.failedAt, last.id) }
      : { letters };
  }

  get(id: string): Promise<DeadLetterRecord | undefined> {
    const letter = this.#letters.get(id);
    return Promise.resolve(letter === undefined ? undefined : structuredClone(letter));
  }

  recordReplay(id: string, replay: { by: string; at: string }): Promise<void> {
    const letter = this.#letters.get(id);
    if (letter !== undefined) {
      this.#letters.set(id, { ...letter, replays: [...letter.replays, { ...replay }] });
    }
    return Promise.resolve();
  }
}
