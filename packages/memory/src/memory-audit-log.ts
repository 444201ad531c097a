import type { AuditEntry, AuditLog, AuditQuery } from '@sagaflow/core';

/** In-memory {@link AuditLog}. */
export class MemoryAuditLog implements AuditLog {
  readonly #entries: AuditEntry[] = [];

  record(entry: AuditEntry): Promise<void> {
    this.#entries.push(structuredClone(entry));
    return Promise.resolve();
  }

  recent(limit: number, query: AuditQuery = {}): Promise<AuditEntry[]> {
    // Newest first by time; of entries at the same time, the one recorded last first.
    const selected = this.#entries
      .map((entry, order) => ({ entry, order }))
      .filter(({ entry }) => query.target === undefined || entry.target === query.target)
      .sort((a, b) =>
        a.entry.at === b.entry.at ? b.order - a.order : a.entry.at < b.entry.at ? 1 : -1,
      );
    return Promise.resolve(structuredClone(selected.slice(0, limit).map(({ entry }) => entry)));
  }
}
