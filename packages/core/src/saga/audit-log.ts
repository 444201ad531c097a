/** One operator action. */
export interface AuditEntry {
  /** e.g. `saga.compensate`, `dead-letter.replay`. */
  readonly action: string;
  /** What the action was done to (a saga id, a dead-letter id). */
  readonly target: string;
  /** Who did it. */
  readonly by: string;
  /** ISO-8601. */
  readonly at: string;
  /**
   * `requested` before the action runs (nothing is done unless this is recorded), then `done`,
   * `failed`, or `refused` (an action refused: no or a wrong token, a read-only token, bad input,
   * a saga that cannot take it). @default absent in entries of earlier releases
   */
  readonly outcome?: 'requested' | 'done' | 'failed' | 'refused';
  /** The caller's address, as the HTTP server saw it. */
  readonly address?: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** Which entries {@link AuditLog.recent} reads. */
export interface AuditQuery {
  /** Only the entries on this target (a saga id, a dead-letter id), however old. @default all */
  readonly target?: string;
}

/** Port: an append-only log of operator actions. */
export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** The latest `limit` entries (of those the query selects), newest first by `at`. */
  recent(limit: number, query?: AuditQuery): Promise<AuditEntry[]>;
}
