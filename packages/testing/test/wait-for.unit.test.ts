import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.js';

describe('waitFor', () => {
  it('returns the first value that is not false, undefined or null', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('treats a throwing check as not yet', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not ready');
        return 0;
      },
      { intervalMs: 1 },
    );
    expect(value).toBe(0);
  });

  it('names what it waited for and the last failure on timeout', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('broker unreachable');
        },
        { timeoutMs: 30, intervalMs: 5, description: 'the broker' },
      ),
    ).rejects.toThrow(
      /timed out after 30 ms waiting for the broker; last check failed: broker unreachable/,
    );
  });

  it('refuses a timeout that is not a positive number', async () => {
    await expect(waitFor(() => true, { timeoutMs: 0 })).rejects.toThrow(
      /timeoutMs must be a positive number/,
    );
  });
});
