import { SagaflowError } from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { isTransientStartError, startWithRetries } from '../src/index.js';

const fast = { backoff: { initialMs: 1, maxMs: 2, multiplier: 2 } };

describe('startWithRetries', () => {
  it('retries transient failures (a Kafka metadata error, a refused connection) until it starts', async () => {
    const failures = [
      Object.assign(new Error('This server does not host this topic-partition'), {
        retriable: true,
      }),
      new Error('connect ECONNREFUSED 127.0.0.1:27017'),
    ];
    const retried: number[] = [];
    const started = await startWithRetries(
      () => {
        const failure = failures.shift();
        return failure === undefined ? Promise.resolve('started') : Promise.reject(failure);
      },
      { ...fast, onRetry: (_e, attempt) => retried.push(attempt) },
    );
    expect(started).toBe('started');
    expect(retried).toEqual([1, 2]);
  });

  it('gives up at once on a terminal error (bad configuration)', async () => {
    let attempts = 0;
    const bad = new SagaflowError('INVALID_ARGUMENT', 'PORT must be a port number');
    await expect(
      startWithRetries(() => {
        attempts += 1;
        return Promise.reject(bad);
      }, fast),
    ).rejects.toBe(bad);
    expect(attempts).toBe(1);
  });

  it('throws the last error once the time is up', async () => {
    let now = 0;
    let attempts = 0;
    await expect(
      startWithRetries(
        () => {
          attempts += 1;
          now += 400;
          return Promise.reject(new Error(`registry answered 503 (${attempts})`));
        },
        { ...fast, timeoutMs: 1_000, now: () => now },
      ),
    ).rejects.toThrow('registry answered 503 (3)');
  });

  it('tells transient from terminal errors', () => {
    expect(
      isTransientStartError(new SagaflowError('CONCURRENCY_CONFLICT', 'x', { retriable: true })),
    ).toBe(true);
    expect(isTransientStartError(new SagaflowError('INVALID_DEFINITION', 'x'))).toBe(false);
    expect(isTransientStartError(new TypeError('x is not a function'))).toBe(false);
    expect(isTransientStartError(new Error('MongoServerSelectionError'))).toBe(true);
  });
});
