import type { AuditEntry, AuditLog } from '@sagaflow/core';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

/** The behaviour every audit log must have, run against the in-memory and the MongoDB one. */
export function auditLogContract(name: string, makeLog: () => AuditLog | Promise<AuditLog>) {
  describe(`AuditLog contract: ${name}`, () => {
    const entry = (target: string, millisecond: number, by = 'ann'): AuditEntry => ({
      action: 'saga.compensate',
      target,
      by,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, millisecond)).toISOString(),
      outcome: 'done',
      address: '127.0.0.1',
      details: { reason: 'customer called', attempt: 1, forced: false },
    });

    it('reads back the latest entries, newest first by time, whole', async () => {
      const log = await makeLog();
      const target = uniqueName('saga');
      // Recorded out of time order: read back in time order.
      for (const ms of [20, 10, 30]) await log.record(entry(target, ms));
      const latest = await log.recent(2, { target });
      expect(latest).toEqual([entry(target, 30), entry(target, 20)]);
      expect((await log.recent(10)).slice(0, 3).map((e) => e.at)).toEqual(
        [30, 20, 10].map((ms) => entry(target, ms).at),
      );
    });

    it("reads one target's entries however many newer ones are on others", async () => {
      const log = await makeLog();
      const target = uniqueName('saga');
      await log.record(entry(target, 1, 'ann'));
      await log.record(entry(target, 1, 'bob'));
      for (let i = 0; i < 1_050; i += 1) await log.record(entry(uniqueName('letter'), 100 + i));
      // Of two entries at the same time, the one recorded last comes first.
      expect((await log.recent(10, { target })).map((e) => e.by)).toEqual(['bob', 'ann']);
      expect(await log.recent(5, { target: uniqueName('nobody') })).toEqual([]);
    });
  });
}
