import { randomBytes } from 'node:crypto';

/**
 * A name no other test uses: `<prefix>-<time>-<random>`, made of letters, digits, `-` and `_`
 * only, so that it is valid as a Kafka topic, a consumer group and a MongoDB database name.
 */
export function uniqueName(prefix: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,29}$/.test(prefix)) {
    throw new Error(
      `prefix must start with a letter and hold at most 30 letters, digits, '-' or '_' (got '${prefix}')`,
    );
  }
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** A fresh Kafka topic name. */
export const uniqueTopic = (prefix = 'topic') => uniqueName(prefix);

/** A fresh consumer group id. */
export const uniqueGroupId = (prefix = 'group') => uniqueName(prefix);

/** A fresh database name (at most 63 characters, as FerretDB requires). */
export const uniqueDatabase = (prefix = 'db') => uniqueName(prefix).replaceAll('-', '_');
