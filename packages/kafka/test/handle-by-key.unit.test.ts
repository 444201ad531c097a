import { describe, expect, it } from 'vitest';
import { handleByKey } from '../src/kafka-bus.js';

interface Message {
  readonly key: string;
  readonly offset: number;
}

const fetched = (keys: string): Message[] => [...keys].map((key, offset) => ({ key, offset }));

describe('handling a fetch by key', () => {
  it('keeps the order of each key and handles other keys side by side', async () => {
    const log: string[] = [];
    const release = new Map<number, () => void>();
    const messages = fetched('aabab');
    const running = handleByKey(
      messages,
      (m) => m.key,
      async (m) => {
        log.push(`start ${m.key}${m.offset}`);
        // The first 'a' waits until the first 'b' has started: they run side by side.
        if (m.offset === 0) await new Promise<void>((resolve) => release.set(0, resolve));
        if (m.offset === 2) release.get(0)?.();
        log.push(`end ${m.key}${m.offset}`);
        return true;
      },
    );
    const { handled, error } = await running;
    expect(error).toBeUndefined();
    expect(handled).toEqual(messages);
    const ends = (key: string) => log.filter((l) => l.startsWith(`end ${key}`));
    expect(ends('a')).toEqual(['end a0', 'end a1', 'end a3']);
    expect(ends('b')).toEqual(['end b2', 'end b4']);
    expect(log.indexOf('start b2')).toBeLessThan(log.indexOf('end a0'));
  });

  it('moves only past the messages all handled from the start, and gives the first error', async () => {
    const failure = new Error('handler failed');
    const messages = fetched('abab');
    const { handled, error } = await handleByKey(
      messages,
      (m) => m.key,
      async (m) => {
        if (m.offset === 1) throw failure;
        return Promise.resolve(true);
      },
    );
    expect(error).toBe(failure);
    // b1 failed: the offset stays before it, whatever else of 'a' was handled.
    expect(handled).toEqual([messages[0]]);
  });

  it('stops a key at a message not handled (the consumer stopping)', async () => {
    const messages = fetched('aab');
    const { handled, error } = await handleByKey(
      messages,
      (m) => m.key,
      (m) => Promise.resolve(m.offset !== 1),
    );
    expect(error).toBeUndefined();
    expect(handled).toEqual([messages[0]]);
  });
});
