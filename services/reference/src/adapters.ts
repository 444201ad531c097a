import { referenceSchemaDirs } from '@sagaflow/reference-contracts';
import {
  memoryAdapters as memory,
  realAdapters as real,
  type AdapterFactory,
  type ServerAddresses,
} from '@sagaflow/runtime';

/** The real servers' adapters, with the reference schemas unless told otherwise. */
export const realAdapters = (
  servers: ServerAddresses,
  options: { readonly schemaDirs?: readonly string[] } = {},
): AdapterFactory => real(servers, { schemaDirs: options.schemaDirs ?? referenceSchemaDirs });

/** The in-memory adapters with the reference schemas: every service of the process on one bus. */
export const memoryAdapters = (): AdapterFactory => memory({ schemaDirs: referenceSchemaDirs });
