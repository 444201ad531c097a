import type { AuditEntry, AuditLog } from '@sagaflow/core';

/** In-memory {@link AuditLog}. */
export class MemoryAuditLog implements AuditLog {
  readonly #entries: AuditEntry[] = [];

  record(entry: AuditEntry): Promise<void> {
    this.#entries.push(structuredClone(entry));
    return Promise.resolve();
  }

  recent(limit: number): Promise<AuditEntry[]> {
    return Promise.resolve(structuredClone(this.#entries.slice(-limit).reverse()));
  }
}
