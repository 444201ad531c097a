import type { CompensationRequest, SagaStatus, SagaView, TimelineEntry } from './saga-view.js';

/** Filters of {@link SagaViewStore.query}. */
export interface SagaQuery {
  readonly status?: SagaStatus;
  readonly type?: string;
  /** Started at or after (ISO-8601). */
  readonly since?: string;
  /** Started before (ISO-8601). */
  readonly until?: string;
  /** Matches the saga id or the business key exactly. */
  readonly q?: string;
  /** Opaque cursor from the previous page. */
  readonly after?: string;
  readonly limit: number;
}

/** The number of sagas of one type in one status. */
export interface SagaCount {
  readonly type: string;
  readonly status: SagaStatus;
  readonly count: number;
}

/** What {@link SagaViewStore.recordEntry} did. */
export interface RecordedEntry {
  /** False when the event was recorded already. */
  readonly recorded: boolean;
  /** The saga's whole timeline as read while recording, the event included. */
  readonly entries: readonly TimelineEntry[];
}

/** An event to record in a saga's timeline (see {@link SagaViewStore.recordEntries}). */
export interface SagaEntry {
  readonly sagaId: string;
  readonly entry: TimelineEntry;
}

/** What {@link SagaViewStore.recordEntries} did for one saga. */
export interface RecordedEntries {
  /** Ids of the events recorded now (the others were recorded already). */
  readonly recorded: readonly string[];
  /** The saga's whole timeline as read while recording, the events included. */
  readonly entries: readonly TimelineEntry[];
}

/**
 * Port: where the saga tracker keeps timelines and views. Recording an entry is idempotent (one
 * per event id); a view is a function of the recorded entries, written whole.
 */
export interface SagaViewStore {
  prepare(): Promise<void>;
  /** Records an event of a saga, once per event id. */
  recordEntry(sagaId: string, entry: TimelineEntry): Promise<RecordedEntry>;
  /**
   * Records events of several sagas, each once per event id, as {@link recordEntry} does one by
   * one but in as few writes as the store can (the tracker's batch). Returns what it did per saga.
   */
  recordEntries(items: readonly SagaEntry[]): Promise<ReadonlyMap<string, RecordedEntries>>;
  entries(sagaId: string): Promise<TimelineEntry[]>;
  /** Records the first compensation request of a saga; false when there was one. */
  requestCompensation(sagaId: string, request: CompensationRequest): Promise<boolean>;
  compensationRequest(sagaId: string): Promise<CompensationRequest | undefined>;
  /** The compensation requests of the given sagas; a saga without one is absent. */
  compensationRequests(
    sagaIds: readonly string[],
  ): Promise<ReadonlyMap<string, CompensationRequest>>;
  writeView(view: SagaView): Promise<void>;
  /** Writes several views whole, as {@link writeView} does one by one, in as few writes as it can. */
  writeViews(views: readonly SagaView[]): Promise<void>;
  view(sagaId: string): Promise<SagaView | undefined>;
  /** Running sagas whose current step's deadline is at or before `now`. */
  overdue(now: string, limit: number): Promise<SagaView[]>;
  /** How many sagas there are of each type and status (what the saga gauges report). */
  counts(): Promise<readonly SagaCount[]>;
  /**
   * How long (ms) the latest ended sagas took, of one type if given, newest first, at most
   * `limit`: what the admin's duration percentiles are taken from, read without whole views.
   */
  durations(query: { readonly type?: string; readonly limit: number }): Promise<number[]>;
  /** Views by filter, newest first, with the cursor of the next page. */
  query(query: SagaQuery): Promise<{ views: SagaView[]; next?: string }>;
}
