import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlSchemasDir } from '@sagaflow/core';

/** The reference schemas and sagaflow's own: every service's catalog. */
export const referenceSchemaDirs = [
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas'),
  controlSchemasDir,
];
