import { isSagaflowError } from '@sagaflow/core';
import { testEnv, uniqueName } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { AvroSerde, catalogEntry, SchemaCatalog } from '../src/index.js';

const reserved = (namespace: string, extraFields: object[] = []) => ({
  type: 'record',
  name: 'StockReserved',
  namespace,
  fields: [{ name: 'sku', type: 'string' }, { name: 'quantity', type: 'int' }, ...extraFields],
});

const serdeOf = (...schemas: object[]) =>
  new AvroSerde({
    registryUrl: testEnv().schemaRegistryUrl,
    catalog: new SchemaCatalog(schemas.map((s, i) => catalogEntry(s, `inline-${i}.avsc`))),
  });

const namespace = () => uniqueName('ns').replaceAll('-', '_');

describe('AvroSerde (real schema registry)', () => {
  it('registers the catalog and round-trips a payload in the Confluent wire format', async () => {
    const ns = namespace();
    const serde = serdeOf(reserved(ns));
    const [ref] = await serde.registerAll();
    expect(ref).toMatchObject({ subject: `${ns}.StockReserved`, version: 1 });

    const { value, schema } = await serde.encode('StockReserved', { sku: 'A-1', quantity: 3 });
    expect(schema).toEqual({ subject: ref!.subject, version: ref!.version });
    expect(value.readUInt8(0)).toBe(0);
    const id = value.readInt32BE(1);
    const registered = await fetch(`${testEnv().schemaRegistryUrl}/schemas/ids/${id}`);
    expect(registered.status).toBe(200);
    expect(await serdeOf(reserved(ns)).decode('StockReserved', value)).toEqual({
      sku: 'A-1',
      quantity: 3,
    });
  });

  it('registers new subjects from many services starting at once', async () => {
    const ns = namespace();
    const schemas = ['StockReserved', 'StockReleased', 'StockSet'].map((name) => ({
      ...reserved(ns),
      name,
    }));
    const refs = await Promise.all(
      Array.from({ length: 6 }, () => serdeOf(...schemas).registerAll()),
    );
    for (const ref of refs) {
      expect(ref.map((r) => [r.subject, r.version])).toEqual(
        schemas.map((s) => [`${ns}.${s.name}`, 1]),
      );
    }
  });

  it('refuses a payload that does not fit, naming the field', async () => {
    const serde = serdeOf(reserved(namespace()));
    const attempt = serde.encode('StockReserved', { sku: 'A-1', quantity: 'three' });
    await expect(attempt).rejects.toThrow(
      /invalid StockReserved: StockReserved\.quantity: expected "int", got "three"/,
    );
    await expect(attempt).rejects.toMatchObject({ code: 'SERDE_FAILED', retriable: false });
    await expect(serde.encode('NoSuchEvent', {})).rejects.toThrow(
      /no schema for the type 'NoSuchEvent'/,
    );
  });

  it('reads events written with an older compatible schema', async () => {
    const ns = namespace();
    const v1 = serdeOf(reserved(ns));
    const old = await v1.encode('StockReserved', { sku: 'A-1', quantity: 1 });
    const v2 = serdeOf(reserved(ns, [{ name: 'warehouse', type: 'string', default: 'main' }]));
    const [ref] = await v2.registerAll();
    expect(ref).toMatchObject({ subject: `${ns}.StockReserved`, version: 2 });
    expect(await v2.decode('StockReserved', old.value)).toEqual({
      sku: 'A-1',
      quantity: 1,
      warehouse: 'main',
    });
    const current = await v2.encode('StockReserved', { sku: 'B', quantity: 2, warehouse: 'east' });
    expect(current.schema.version).toBe(2);
  });

  it('refuses to register an incompatible change, saying so', async () => {
    const ns = namespace();
    await serdeOf(reserved(ns)).registerAll();
    const breaking = serdeOf(reserved(ns, [{ name: 'warehouse', type: 'string' }]));
    const attempt = breaking.registerAll();
    await expect(attempt).rejects.toThrow(
      /inline-0\.avsc is not BACKWARD compatible with the registered .*StockReserved/,
    );
    await expect(attempt).rejects.toMatchObject({ code: 'SERDE_FAILED', retriable: false });
  });

  it('fails terminally on malformed bytes and unknown schema ids', async () => {
    const serde = serdeOf(reserved(namespace()));
    const notWire = serde.decode('StockReserved', Buffer.from('{"sku":"A"}'));
    await expect(notWire).rejects.toThrow(/not in the Confluent wire format/);
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 65]);
    const error = await serde.decode('StockReserved', unknownId).catch((e: unknown) => e);
    expect(isSagaflowError(error, 'SERDE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/unknown schema id 2147483632/);
    expect((error as { retriable: boolean }).retriable).toBe(false);
  });
});
