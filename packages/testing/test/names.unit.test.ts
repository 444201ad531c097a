import { describe, expect, it } from 'vitest';
import { uniqueDatabase, uniqueGroupId, uniqueName, uniqueTopic } from '../src/index.js';

describe('unique names', () => {
  it('never repeats and stays valid for topics, groups and databases', () => {
    const names = new Set(Array.from({ length: 1000 }, () => uniqueTopic('orders')));
    expect(names.size).toBe(1000);
    for (const name of names) expect(name).toMatch(/^orders-[a-z0-9]+-[0-9a-f]{10}$/);
    expect(uniqueGroupId()).toMatch(/^group-/);
    const db = uniqueDatabase('proof');
    expect(db).toMatch(/^[A-Za-z0-9_]+$/);
    expect(db.length).toBeLessThanOrEqual(63);
  });

  it('refuses a prefix that would make an invalid name', () => {
    expect(() => uniqueName('has space')).toThrow(/prefix must start with a letter/);
    expect(() => uniqueName('x'.repeat(31))).toThrow(/at most 30/);
  });
});
