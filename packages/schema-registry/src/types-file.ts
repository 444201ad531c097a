import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadSchemaCatalog } from './schema-catalog.js';
import { generateTypeScript } from './typescript-types.js';

/** The first line of a file of types generated from schemas. */
export const GENERATED_TYPES_HEADER =
  '// Generated from the .avsc files by `pnpm schemas:generate`. Do not edit.';

/**
 * Writes the TypeScript types of the schemas under `schemas` to `out` (its folder made if
 * needed), or with `check` writes nothing and tells whether `out` differs from what it would
 * write. Resolves with that, and the number of schemas read.
 */
export async function syncTypesFile(
  schemas: string,
  out: string,
  options: { readonly check?: boolean } = {},
): Promise<{ readonly stale: boolean; readonly schemas: number }> {
  const catalog = await loadSchemaCatalog(schemas);
  const text = generateTypeScript(catalog, GENERATED_TYPES_HEADER);
  const count = catalog.entries().length;
  if (options.check === true) {
    const current = await readFile(out, 'utf8').catch(() => '');
    return { stale: current !== text, schemas: count };
  }
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeFile(out, text);
  return { stale: false, schemas: count };
}
