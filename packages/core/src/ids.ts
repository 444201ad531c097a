import { createHash, randomUUID } from 'node:crypto';

/**
 * A UUID derived from a name (RFC 9562 version 8 layout over SHA-256), so that the same commit
 * always yields the same event ids however often it is published.
 */
export function deterministicUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The id of the event at `index` in the commit `version` of an entity. */
export const eventIdOf = (entityType: string, entityId: string, version: number, index: number) =>
  deterministicUuid(`${entityType}/${entityId}/${version}/${index}`);

/** A fresh random id (saga ids, command ids). */
export const newId = (): string => randomUUID();
