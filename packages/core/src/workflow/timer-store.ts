/** A durable timer: wakes its owner's workflow at `dueAt`, also after a restart. */
export interface DurableTimer {
  /** Unique: `<workflowId>@<version>`, the commit that set the timer. */
  readonly id: string;
  /** The workflow entity type whose orchestrator fires it. */
  readonly owner: string;
  readonly workflowId: string;
  /** ISO-8601. */
  readonly dueAt: string;
}

/**
 * Port: where durable timers live. A timer is written before the commit that needs it and deleted
 * after it fired, so a crash anywhere leaves at most a timer too many (which fires and changes
 * nothing), never one too few.
 */
export interface TimerStore {
  /** Prepares storage (collection, indexes); safe to call again. */
  prepare(): Promise<void>;
  /** Stores a timer; storing the same id again changes nothing. */
  schedule(timer: DurableTimer): Promise<void>;
  /** Timers of the owner due at `now` or earlier, earliest first. */
  due(owner: string, now: string, limit: number): Promise<DurableTimer[]>;
  /** The earliest pending timer of the owner, if any. */
  next(owner: string): Promise<DurableTimer | undefined>;
  /**
   * Moves a timer to another due time, keeping its id: a timer that failed to fire backs off, so
   * that it does not stay among the earliest and hold back the timers due after it. Nothing
   * happens to a timer that is gone.
   */
  postpone(id: string, dueAt: string): Promise<void>;
  /** Forgets timers (idempotent). */
  delete(ids: readonly string[]): Promise<void>;
}
