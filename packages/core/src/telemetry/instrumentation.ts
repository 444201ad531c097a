/**
 * Ports through which the framework reports what it does: metrics (see the Prometheus adapter
 * in `@sagaflow/observability`) and log lines (pino's `Logger` fits). Both default to nothing.
 */

/** How handling one command ended. */
export type CommandOutcome = 'committed' | 'duplicate' | 'rejected' | 'unchanged' | 'failed';

/** How handling one consumed message ended. */
export type MessageOutcome = 'handled' | 'skipped' | 'dead-lettered' | 'failed';

/** Port: the framework's counters and timings. Every method must be cheap and never throw. */
export interface SagaflowMetrics {
  /** A command ran against an entity, with how long it took (load, decide, append). */
  commandHandled(
    labels: {
      readonly entityType: string;
      readonly command: string;
      readonly outcome: CommandOutcome;
    },
    seconds: number,
  ): void;
  /** A consumed message was handled (retries included in the time). */
  messageHandled(
    labels: {
      readonly group: string;
      readonly topic: string;
      readonly type: string;
      readonly outcome: MessageOutcome;
    },
    seconds: number,
  ): void;
  /** A handler failed and will be tried again. */
  messageRetried(labels: { readonly group: string; readonly type: string }): void;
  /**
   * A message started (`+1`) or stopped (`-1`) waiting for something that is not there yet,
   * however long it takes: the database or Kafka (`STORE_UNAVAILABLE`, `PUBLISH_FAILED`), the
   * schema registry (`SERDE_FAILED`), a workflow version not deployed yet (`UNKNOWN_WORKFLOW`).
   * @default not told
   */
  messageWaiting?(labels: { readonly group: string; readonly code: string }, change: 1 | -1): void;
  /** A message went to a dead-letter topic. */
  deadLettered(labels: {
    readonly group: string;
    readonly type: string;
    readonly code: string;
  }): void;
  /** The relay published events (and outbox commands) of these types. */
  published(types: readonly string[]): void;
  /** A background loop (relay, compaction, timers) failed a round and will start again. */
  loopRestarted(loop: string): void;
  /** A consumer crashed and was restarted by the bus. */
  consumerRestarted(labels: { readonly group: string }): void;
  /**
   * An adapter sent one request to a server and waits for its answer: a database command
   * (`find`, `insert`, …) or a Kafka request (`Produce`, `EndTxn`, …). What a saga costs is
   * counted in these.
   */
  roundTrip(labels: { readonly system: RoundTripSystem; readonly operation: string }): void;
}

/** The servers whose round trips are counted. */
export type RoundTripSystem = 'database' | 'kafka';

/** Told about each request an adapter sends (see {@link SagaflowMetrics.roundTrip}). */
export type RoundTripListener = (operation: string) => void;

/** Metrics that go nowhere. */
export const noMetrics: SagaflowMetrics = {
  commandHandled: () => {},
  messageHandled: () => {},
  messageRetried: () => {},
  deadLettered: () => {},
  published: () => {},
  loopRestarted: () => {},
  consumerRestarted: () => {},
  roundTrip: () => {},
};

/** Port: structured log lines, `(fields, message)` as pino takes them. */
export interface SagaflowLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /** Whether a level is written, so that costly fields are only built when they are. */
  isLevelEnabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
}

/** A logger that writes nothing. */
export const silentLogger: SagaflowLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isLevelEnabled: () => false,
};

/**
 * What a service does with a failed round of a background loop (relay, compaction, timers,
 * tracker) that it will retry: counts it in `sagaflow_loop_restarts_total`, logs a warning with
 * the service and the loop, and tells `onError`.
 */
export function backgroundReporter(options: {
  readonly service: string;
  readonly metrics?: SagaflowMetrics | undefined;
  readonly logger?: SagaflowLogger | undefined;
  readonly onError?: ((error: unknown, where: string) => void) | undefined;
}): (error: unknown, where: string) => void {
  const metrics = options.metrics ?? noMetrics;
  const logger = options.logger ?? silentLogger;
  return (error, where) => {
    metrics.loopRestarted(where);
    logger.warn({ service: options.service, where, err: error }, `${where} failed; retrying`);
    options.onError?.(error, where);
  };
}
