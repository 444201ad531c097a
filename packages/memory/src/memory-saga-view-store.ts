import {
  pageCursor,
  parsePageCursor,
  type CompensationRequest,
  type RecordedEntries,
  type RecordedEntry,
  type SagaCount,
  type SagaEntry,
  type SagaQuery,
  type SagaView,
  type SagaViewStore,
  type TimelineEntry,
} from '@sagaflow/core';

/** Newest first: by start time, then saga id. */
export function compareNewestFirst(a: SagaView, b: SagaView): number {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? 1 : -1;
  return a.sagaId < b.sagaId ? 1 : a.sagaId > b.sagaId ? -1 : 0;
}

/** In-memory {@link SagaViewStore}, for fast tests and the embedded demo. */
export class MemorySagaViewStore implements SagaViewStore {
  readonly #entries = new Map<string, Map<string, TimelineEntry>>();
  readonly #requests = new Map<string, CompensationRequest>();
  readonly #views = new Map<string, SagaView>();

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  recordEntry(sagaId: string, entry: TimelineEntry): Promise<RecordedEntry> {
    const entries = this.#entries.get(sagaId) ?? new Map<string, TimelineEntry>();
    this.#entries.set(sagaId, entries);
    const recorded = !entries.has(entry.eventId);
    if (recorded) entries.set(entry.eventId, structuredClone(entry));
    return Promise.resolve({ recorded, entries: structuredClone([...entries.values()]) });
  }

  async recordEntries(items: readonly SagaEntry[]): Promise<ReadonlyMap<string, RecordedEntries>> {
    const done = new Map<string, { recorded: string[]; entries: readonly TimelineEntry[] }>();
    for (const { sagaId, entry } of items) {
      const { recorded, entries } = await this.recordEntry(sagaId, entry);
      const saga = done.get(sagaId) ?? { recorded: [], entries };
      if (recorded) saga.recorded.push(entry.eventId);
      done.set(sagaId, { recorded: saga.recorded, entries });
    }
    return done;
  }

  entries(sagaId: string): Promise<TimelineEntry[]> {
    return Promise.resolve(structuredClone([...(this.#entries.get(sagaId)?.values() ?? [])]));
  }

  requestCompensation(sagaId: string, request: CompensationRequest): Promise<boolean> {
    if (this.#requests.has(sagaId)) return Promise.resolve(false);
    this.#requests.set(sagaId, { ...request });
    return Promise.resolve(true);
  }

  compensationRequest(sagaId: string): Promise<CompensationRequest | undefined> {
    const request = this.#requests.get(sagaId);
    return Promise.resolve(request === undefined ? undefined : { ...request });
  }

  compensationRequests(
    sagaIds: readonly string[],
  ): Promise<ReadonlyMap<string, CompensationRequest>> {
    const found = new Map<string, CompensationRequest>();
    for (const sagaId of sagaIds) {
      const request = this.#requests.get(sagaId);
      if (request !== undefined) found.set(sagaId, { ...request });
    }
    return Promise.resolve(found);
  }

  async writeViews(views: readonly SagaView[]): Promise<void> {
    for (const view of views) await this.writeView(view);
  }

  writeView(view: SagaView): Promise<void> {
    this.#views.set(view.sagaId, structuredClone(view));
    return Promise.resolve();
  }

  view(sagaId: string): Promise<SagaView | undefined> {
    const view = this.#views.get(sagaId);
    return Promise.resolve(view === undefined ? undefined : structuredClone(view));
  }

  overdue(now: string, limit: number): Promise<SagaView[]> {
    const due = [...this.#views.values()].filter(
      (v) => v.status === 'running' && v.deadlineAt !== undefined && v.deadlineAt <= now,
    );
    return Promise.resolve(structuredClone(due.slice(0, limit)));
  }

  durations(query: { readonly type?: string; readonly limit: number }): Promise<number[]> {
    const ended = [...this.#views.values()]
      .filter((v) => v.endedAt !== undefined && (query.type === undefined || v.type === query.type))
      .sort((a, b) => (a.endedAt! < b.endedAt! ? 1 : a.endedAt! > b.endedAt! ? -1 : 0))
      .slice(0, query.limit);
    return Promise.resolve(ended.map((v) => Date.parse(v.endedAt!) - Date.parse(v.startedAt)));
  }

  counts(): Promise<SagaCount[]> {
    const counts = new Map<string, SagaCount>();
    for (const { type = 'unknown', status } of this.#views.values()) {
      const key = `${type}\u0000${status}`;
      counts.set(key, { type, status, count: (counts.get(key)?.count ?? 0) + 1 });
    }
    return Promise.resolve([...counts.values()]);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- errors must arrive as rejections
  async query(query: SagaQuery): Promise<{ views: SagaView[]; next?: string }> {
    const matching = [...this.#views.values()]
      .filter(
        (v) =>
          (query.status === undefined || v.status === query.status) &&
          (query.type === undefined || v.type === query.type) &&
          (query.since === undefined || v.startedAt >= query.since) &&
          (query.until === undefined || v.startedAt < query.until) &&
          (query.q === undefined || v.sagaId === query.q || v.businessKey === query.q),
      )
      .sort(compareNewestFirst);
    const parsed = query.after === undefined ? undefined : parsePageCursor(query.after);
    const after = parsed === undefined ? undefined : { startedAt: parsed[0], sagaId: parsed[1] };
    const rest =
      after === undefined
        ? matching
        : matching.filter((v) => compareNewestFirst(v, { ...v, ...after }) > 0);
    const page = rest.slice(0, query.limit);
    const more = rest.length > query.limit;
    return {
      views: structuredClone(page),
      ...(more && page.length > 0
        ? { next: pageCursor(page.at(-1)!.startedAt, page.at(-1)!.sagaId) }
        : {}),
    };
  }
}
