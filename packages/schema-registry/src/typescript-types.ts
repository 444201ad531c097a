import { invalidArgument } from '@sagaflow/core';
import type { SchemaCatalog } from './schema-catalog.js';

type AvroSchema = string | AvroSchema[] | { readonly [key: string]: unknown };

const PRIMITIVES: Readonly<Record<string, string>> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

const shortName = (name: string) => name.slice(name.lastIndexOf('.') + 1);

const docComment = (doc: unknown, indent = '') =>
  typeof doc === 'string' && doc !== '' ? `${indent}/** ${doc.replaceAll('*/', '* /')} */\n` : '';

/**
 * TypeScript declarations for every schema of the catalog: one interface per record (named
 * records nested in several schemas are declared once), a union of literals per enum, and a
 * `SchemaTypes` map from type name to payload type. Deterministic, so that a check can compare it.
 */
export function generateTypeScript(catalog: SchemaCatalog, header: string): string {
  const declarations = new Map<string, string>();

  const declare = (name: string, text: string, file: string) => {
    const existing = declarations.get(name);
    if (existing !== undefined && existing !== text) {
      throw invalidArgument(file, `declares '${name}' differently from another schema`);
    }
    declarations.set(name, text);
  };

  const typeOf = (schema: AvroSchema, file: string): string => {
    if (typeof schema === 'string') return PRIMITIVES[schema] ?? shortName(schema);
    if (Array.isArray(schema)) return schema.map((s) => typeOf(s, file)).join(' | ');
    const type = schema['type'] as AvroSchema;
    switch (type) {
      case 'record':
      case 'error': {
        const name = shortName(String(schema['name']));
        const fields = (
          schema['fields'] as { name: string; type: AvroSchema; doc?: unknown }[]
        ).map(
          (field) =>
            `${docComment(field.doc, '  ')}  readonly ${field.name}: ${typeOf(field.type, file)};\n`,
        );
        declare(
          name,
          `${docComment(schema['doc'])}export interface ${name} {\n${fields.join('')}}\n`,
          file,
        );
        return name;
      }
      case 'enum': {
        const name = shortName(String(schema['name']));
        const symbols = (schema['symbols'] as string[]).map((s) => `'${s}'`).join(' | ');
        declare(name, `${docComment(schema['doc'])}export type ${name} = ${symbols};\n`, file);
        return name;
      }
      case 'array': {
        const items = typeOf(schema['items'] as AvroSchema, file);
        return /^\w+$/.test(items) ? `readonly ${items}[]` : `ReadonlyArray<${items}>`;
      }
      case 'map':
        return `Readonly<Record<string, ${typeOf(schema['values'] as AvroSchema, file)}>>`;
      case 'fixed':
        return 'Buffer';
      default:
        return typeOf(type, file);
    }
  };

  const roots = catalog
    .entries()
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
    .map((entry) => ({ type: entry.type, ts: typeOf(entry.definition as AvroSchema, entry.file) }));
  const body = [...declarations.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, text]) => text)
    .join('\n');
  const map = roots.map((r) => `  readonly ${r.type}: ${r.ts};\n`).join('');
  return `${header}\n${body}\n/** Every event and command type of the catalog, by name. */\nexport interface SchemaTypes {\n${map}}\n`;
}
