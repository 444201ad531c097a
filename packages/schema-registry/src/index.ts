/**
 * Avro serde of sagaflow through a Confluent-compatible schema registry, with the catalog of
 * schemas read from `schemas/`.
 *
 * @example
 * ```ts
 * import { AvroSerde, loadSchemaCatalog } from '@sagaflow/schema-registry';
 *
 * const serde = new AvroSerde({ registryUrl: process.env.SCHEMA_REGISTRY_URL!, catalog: await loadSchemaCatalog('schemas') });
 * await serde.registerAll();
 * const { value } = await serde.encode('StockReserved', { sku: 'A-1', quantity: 2 });
 * ```
 * @module
 */
export { AvroSerde, checkPayload, readSchemaId, schemaViolations } from './avro-serde.js';
export type { AvroSerdeOptions } from './avro-serde.js';
export { catalogEntry, loadSchemaCatalog, SchemaCatalog } from './schema-catalog.js';
export type { CatalogEntry } from './schema-catalog.js';
export { generateTypeScript } from './typescript-types.js';
export { GENERATED_TYPES_HEADER, syncTypesFile } from './types-file.js';
export { checkCompatibility } from './compatibility.js';
export type { Compatibility } from './compatibility.js';
export { hasSensitiveFields, REDACTED, redactPayload } from './redact.js';
