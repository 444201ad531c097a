import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  catalogEntry,
  generateTypeScript,
  loadSchemaCatalog,
  SchemaCatalog,
} from '../src/index.js';

const record = (name: string, fields: object[], namespace = 'io.test') => ({
  type: 'record',
  name,
  namespace,
  fields,
});

describe('schema catalog', () => {
  it('refuses what is not a named Avro record, naming the file', () => {
    expect(() => catalogEntry({ type: 'string' }, 'a.avsc')).toThrow(
      /a\.avsc must hold an Avro record schema/,
    );
    expect(() => catalogEntry({ type: 'record', name: 'X', fields: [] }, 'b.avsc')).toThrow(
      /b\.avsc must give the record a name and a namespace/,
    );
    expect(() => catalogEntry(record('X', [{ name: 'a', type: 'nope' }]), 'c.avsc')).toThrow(
      /c\.avsc is not a valid Avro schema/,
    );
  });

  it('refuses one type defined twice', () => {
    expect(
      () =>
        new SchemaCatalog([
          catalogEntry(record('X', []), 'a.avsc'),
          catalogEntry(record('X', [], 'io.other'), 'b.avsc'),
        ]),
    ).toThrow(/define the type 'X' twice: a\.avsc and b\.avsc/);
  });

  it('names the file that is not JSON', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'catalog-'));
    try {
      await writeFile(path.join(dir, 'Bad.avsc'), '{ not json');
      await expect(loadSchemaCatalog(dir)).rejects.toThrow(/Bad\.avsc is not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('generates TypeScript for records, nested records, enums, arrays, maps, unions', () => {
    const catalog = new SchemaCatalog([
      catalogEntry(
        {
          ...record('OrderPlaced', [
            { name: 'id', type: 'string', doc: 'The id.' },
            {
              name: 'lines',
              type: { type: 'array', items: record('Line', [{ name: 'qty', type: 'int' }]) },
            },
            { name: 'mode', type: { type: 'enum', name: 'Mode', symbols: ['A', 'B'] } },
            { name: 'tags', type: { type: 'map', values: 'string' } },
            { name: 'note', type: ['null', 'string'], default: null },
          ]),
          doc: 'Placed.',
        },
        'o.avsc',
      ),
    ]);
    const text = generateTypeScript(catalog, '// header');
    expect(text).toContain('/** Placed. */\nexport interface OrderPlaced {');
    expect(text).toContain('  /** The id. */\n  readonly id: string;');
    expect(text).toContain('  readonly lines: readonly Line[];');
    expect(text).toContain("export type Mode = 'A' | 'B';");
    expect(text).toContain('  readonly tags: Readonly<Record<string, string>>;');
    expect(text).toContain('  readonly note: null | string;');
    expect(text).toContain(
      'export interface SchemaTypes {\n  readonly OrderPlaced: OrderPlaced;\n}',
    );
  });
});
