import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument, SagaflowError } from '@sagaflow/core';
import avro from 'avsc';

/** One Avro record schema of the catalog. */
export interface CatalogEntry {
  /** The event or command type: the record's name, e.g. `StockReserved`. */
  readonly type: string;
  /** Namespace-qualified name; also the registry subject (record-name strategy). */
  readonly fullName: string;
  /** The schema as JSON text, as registered. */
  readonly schema: string;
  /** The schema as parsed JSON. */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly avroType: avro.Type;
  /** The file it came from. */
  readonly file: string;
}

/** The schemas of `schemas/`, by type. */
export class SchemaCatalog {
  readonly #entries: ReadonlyMap<string, CatalogEntry>;

  constructor(entries: readonly CatalogEntry[]) {
    const map = new Map<string, CatalogEntry>();
    for (const entry of entries) {
      const clash = map.get(entry.type);
      if (clash !== undefined) {
        throw invalidArgument(
          'schemas',
          `define the type '${entry.type}' twice: ${clash.file} and ${entry.file}`,
        );
      }
      map.set(entry.type, entry);
    }
    this.#entries = map;
  }

  /** The entry of a type; throws SERDE_FAILED when the catalog has none. */
  get(type: string): CatalogEntry {
    const entry = this.#entries.get(type);
    if (entry === undefined) {
      throw new SagaflowError('SERDE_FAILED', `no schema for the type '${type}' in the catalog`);
    }
    return entry;
  }

  has(type: string): boolean {
    return this.#entries.has(type);
  }

  entries(): CatalogEntry[] {
    return [...this.#entries.values()];
  }
}

/** Compiles one record schema; a bad one throws naming the file. */
export function catalogEntry(schema: unknown, file: string): CatalogEntry {
  const record = schema as { type?: unknown; name?: unknown; namespace?: unknown };
  if (record === null || typeof record !== 'object' || record.type !== 'record') {
    throw invalidArgument(file, 'must hold an Avro record schema');
  }
  if (typeof record.name !== 'string' || typeof record.namespace !== 'string') {
    throw invalidArgument(file, 'must give the record a name and a namespace');
  }
  let avroType: avro.Type;
  try {
    avroType = avro.Type.forSchema(schema as avro.Schema);
  } catch (error) {
    throw invalidArgument(file, `is not a valid Avro schema: ${(error as Error).message}`);
  }
  return {
    type: record.name,
    fullName: `${record.namespace}.${record.name}`,
    schema: JSON.stringify(schema),
    definition: schema as Record<string, unknown>,
    avroType,
    file,
  };
}

/** Reads every `.avsc` below a folder (or several). */
export async function loadSchemaCatalog(dirs: string | readonly string[]): Promise<SchemaCatalog> {
  const files: string[] = [];
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    const found = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.avsc'));
    files.push(...found.sort().map((f) => path.join(dir, f)));
  }
  const entries: CatalogEntry[] = [];
  for (const file of files) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw invalidArgument(file, `is not valid JSON: ${(error as Error).message}`);
    }
    entries.push(catalogEntry(parsed, file));
  }
  return new SchemaCatalog(entries);
}
