import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { testEnv, uniqueName } from '../../src/index.js';

const orderCreatedV1 = {
  type: 'record',
  name: 'OrderCreated',
  namespace: 'io.sagaflow.proof',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'total', type: 'long' },
  ],
};

describe('schema registry (real server, Confluent-compatible API)', () => {
  const registry = new SchemaRegistry({ host: testEnv().schemaRegistryUrl });

  it('registers an Avro schema and round-trips a record in the Confluent wire format', async () => {
    const subject = `${uniqueName('proof')}-value`;
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderCreatedV1) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(id).toBeGreaterThan(0);

    const record = { orderId: 'order-42', total: 1999 };
    const encoded = await registry.encode(id, record);
    expect(encoded.readUInt8(0)).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);

    // A fresh client knows nothing cached: decoding fetches the schema by id from the server.
    const fresh = new SchemaRegistry({ host: testEnv().schemaRegistryUrl });
    expect(await fresh.decode(encoded)).toEqual(record);
    expect(await fresh.getLatestSchemaId(subject)).toBe(id);
  });

  it('accepts a backward-compatible version and refuses an incompatible one', async () => {
    const subject = `${uniqueName('proof')}-value`;
    const v1 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderCreatedV1) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    const configured = await fetch(`${testEnv().schemaRegistryUrl}/config/${subject}`);
    expect(await configured.json()).toMatchObject({ compatibilityLevel: 'BACKWARD' });

    const v2Schema = {
      ...orderCreatedV1,
      fields: [...orderCreatedV1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
    };
    const v2 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v2Schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(v2.id).not.toBe(v1.id);
    expect(await registry.getLatestSchemaId(subject)).toBe(v2.id);

    // Old data still decodes; new data carries the new field.
    const old = await registry.encode(v1.id, { orderId: 'o-1', total: 5 });
    expect(await registry.decode(old)).toEqual({ orderId: 'o-1', total: 5 });
    const current = await registry.encode(v2.id, { orderId: 'o-2', total: 7, currency: 'USD' });
    expect(await registry.decode(current)).toEqual({ orderId: 'o-2', total: 7, currency: 'USD' });

    const incompatible = {
      ...orderCreatedV1,
      fields: [
        { name: 'orderId', type: 'string' },
        { name: 'total', type: 'long' },
        { name: 'customerId', type: 'string' }, // new field without a default
      ],
    };
    await expect(
      registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(incompatible) },
        { subject, compatibility: COMPATIBILITY.BACKWARD },
      ),
    ).rejects.toThrow(/incompatible/i);
    expect(await registry.getLatestSchemaId(subject)).toBe(v2.id);
  });
});
