import { SagaflowError } from '@sagaflow/core';

/** A database failure: retriable, saying what was being done. */
export function unavailable(action: string, cause: unknown): SagaflowError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SagaflowError('STORE_UNAVAILABLE', `${action} failed: ${detail}`, {
    retriable: true,
    cause,
  });
}
