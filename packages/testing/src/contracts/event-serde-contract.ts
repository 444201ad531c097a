import type { EventSerde } from '@sagaflow/core';
import { catalogEntry, SchemaCatalog } from '@sagaflow/schema-registry';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../names.js';

/** A serde as the contract needs it: built over a given catalog, with its schema check. */
export type ContractSerde = EventSerde & { check(eventType: string, payload: unknown): void };

/**
 * The behaviour every event serde must have, run against the in-memory one and the one backed by
 * the schema registry.
 */
export function eventSerdeContract(
  name: string,
  makeSerde: (catalog: SchemaCatalog) => ContractSerde,
) {
  describe(`event serde contract: ${name}`, () => {
    const serde = () => {
      const namespace = uniqueName('serde').replaceAll('-', '_');
      return makeSerde(
        new SchemaCatalog([
          catalogEntry(
            {
              type: 'record',
              name: 'ParcelSent',
              namespace,
              fields: [
                { name: 'parcelId', type: 'string' },
                { name: 'weightGrams', type: 'int' },
                { name: 'express', type: 'boolean' },
                { name: 'tags', type: { type: 'array', items: 'string' } },
                { name: 'note', type: ['null', 'string'], default: null },
              ],
            },
            'ParcelSent.avsc',
          ),
        ]),
      );
    };
    const parcel = {
      parcelId: 'p-1',
      weightGrams: 1200,
      express: true,
      tags: ['fragile'],
      note: null,
    };

    it('round-trips a payload in the Confluent wire format and names its schema', async () => {
      const s = serde();
      const { value, schema } = await s.encode('ParcelSent', parcel);
      expect(value.readUInt8(0)).toBe(0);
      expect(value.readInt32BE(1)).toBeGreaterThan(0);
      expect(schema.subject).toMatch(/\.ParcelSent$/);
      expect(schema.version).toBeGreaterThanOrEqual(1);
      expect(await s.decode('ParcelSent', value)).toEqual(parcel);
    });

    it('refuses a payload that does not fit, naming the field, as a terminal error', async () => {
      const s = serde();
      const bad = { ...parcel, weightGrams: 'heavy' };
      expect(() => s.check('ParcelSent', bad)).toThrow(
        /ParcelSent\.weightGrams: expected "int", got "heavy"/,
      );
      await expect(s.encode('ParcelSent', bad)).rejects.toMatchObject({
        code: 'SERDE_FAILED',
        retriable: false,
      });
      await expect(s.encode('ParcelSent', { parcelId: 'p' })).rejects.toThrow(
        /ParcelSent\.weightGrams/,
      );
    });

    it('refuses unknown types and bytes that are not in the wire format', async () => {
      const s = serde();
      await expect(s.encode('NoSuchType', {})).rejects.toThrow(
        /no schema for the type 'NoSuchType'/,
      );
      await expect(s.decode('ParcelSent', Buffer.from('plain text'))).rejects.toMatchObject({
        code: 'SERDE_FAILED',
        retriable: false,
      });
      await expect(s.decode('ParcelSent', Buffer.from([0, 0, 0]))).rejects.toThrow(/wire format/);
    });
  });
}
