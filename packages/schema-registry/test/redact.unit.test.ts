import { describe, expect, it } from 'vitest';
import { hasSensitiveFields, REDACTED, redactPayload } from '../src/redact.js';

const schema = {
  type: 'record',
  name: 'CardCharged',
  namespace: 'io.example',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'cardNumber', type: 'string', sensitive: true },
    {
      name: 'holder',
      type: {
        type: 'record',
        name: 'Holder',
        fields: [
          { name: 'name', type: 'string', sensitive: true },
          { name: 'country', type: 'string' },
        ],
      },
    },
    { name: 'previous', type: { type: 'array', items: 'Holder' } },
    { name: 'byTag', type: { type: 'map', values: 'io.example.Holder' } },
    { name: 'billing', type: ['null', 'Holder'], default: null },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};

describe('redactPayload', () => {
  it('replaces sensitive fields at any depth and leaves the rest and the input as they were', () => {
    const payload = {
      orderId: 'o-1',
      cardNumber: '4111111111111111',
      holder: { name: 'Ada', country: 'UK' },
      previous: [{ name: 'Bob', country: 'FR' }],
      byTag: { main: { name: 'Cy', country: 'DE' } },
      billing: { name: 'Di', country: 'IT' },
      note: null,
    };
    const before = structuredClone(payload);
    expect(redactPayload(schema, payload)).toEqual({
      orderId: 'o-1',
      cardNumber: REDACTED,
      holder: { name: REDACTED, country: 'UK' },
      previous: [{ name: REDACTED, country: 'FR' }],
      byTag: { main: { name: REDACTED, country: 'DE' } },
      billing: { name: REDACTED, country: 'IT' },
      note: null,
    });
    expect(payload).toEqual(before);
  });

  it('keeps absent and null fields absent and null', () => {
    expect(redactPayload(schema, { orderId: 'o-2', billing: null })).toEqual({
      orderId: 'o-2',
      billing: null,
    });
  });

  it('tells whether a schema has sensitive fields', () => {
    expect(hasSensitiveFields(schema)).toBe(true);
    expect(hasSensitiveFields({ type: 'record', name: 'X', fields: [] })).toBe(false);
  });
});
