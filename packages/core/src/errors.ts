/** Every error code sagaflow raises. */
export type SagaflowErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_DEFINITION'
  | 'UNKNOWN_COMMAND'
  | 'COMMAND_REJECTED'
  | 'CONCURRENCY_CONFLICT'
  | 'STORE_UNAVAILABLE'
  /** A server answers a fresh client but not the process's own, which only a fresh process cures. */
  | 'CLIENT_STUCK'
  | 'SERDE_FAILED'
  | 'PUBLISH_FAILED'
  | 'UNKNOWN_WORKFLOW'
  | 'NOT_FOUND'
  /** A saga that has ended (completed, compensated or failed) cannot be compensated. */
  | 'SAGA_ENDED'
  /** A view has not applied, within the wait asked for, the event a read waits for. */
  | 'VIEW_BEHIND';

/** Where a failing message came from, when it came from Kafka. */
export interface MessageOrigin {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/** Context attached to an error, for logs, dead letters and the admin API. */
export interface SagaflowErrorContext extends MessageOrigin {
  readonly entityType?: string;
  readonly entityId?: string;
  readonly sagaId?: string;
  readonly eventId?: string;
  /** The input field that was wrong, for `INVALID_ARGUMENT`. */
  readonly field?: string;
}

/**
 * The one error base of sagaflow. `retriable` decides what happens to a message that failed with
 * it: retried with backoff, or dead-lettered at once.
 */
export class SagaflowError extends Error {
  readonly code: SagaflowErrorCode;
  readonly retriable: boolean;
  readonly context: SagaflowErrorContext;

  constructor(
    code: SagaflowErrorCode,
    message: string,
    options: { retriable?: boolean; context?: SagaflowErrorContext; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'SagaflowError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }
}

/** Bad input, naming the field. Never retriable. */
export function invalidArgument(field: string, message: string): SagaflowError {
  return new SagaflowError('INVALID_ARGUMENT', `${field} ${message}`, { context: { field } });
}

/** True for a {@link SagaflowError} with this code. */
export function isSagaflowError(error: unknown, code?: SagaflowErrorCode): error is SagaflowError {
  return error instanceof SagaflowError && (code === undefined || error.code === code);
}
