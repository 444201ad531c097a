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
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** Port: an append-only log of operator actions. */
export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** The latest entries, newest first. */
  recent(limit: number): Promise<AuditEntry[]>;
}
