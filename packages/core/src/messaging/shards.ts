import { invalidArgument } from '../errors.js';

/** One of a fixed number of outbox shards: the entities whose {@link shardOf} is `index`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Shards a relay id can be split into at most. */
export const MAX_SHARDS = 256;

/** Throws unless `count` is a whole number of shards from 1 to {@link MAX_SHARDS}. */
export function checkShardCount(count: number, field: string): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw invalidArgument(field, `must be an integer from 1 to ${MAX_SHARDS} (got ${count})`);
  }
}

/**
 * The shard of an entity among `count`: a stable hash (32-bit FNV-1a of its UTF-16 code units)
 * of its id, the same in every process, so that one entity's commits always go through one
 * shard's relay and keep their order.
 */
export function shardOf(entityId: string, count: number): number {
  if (count === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < entityId.length; i += 1) {
    hash ^= entityId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** Whether an entity belongs to a shard (every entity does when there is no shard). */
export const inShard = (entityId: string, shard: Shard | undefined): boolean =>
  shard === undefined || shardOf(entityId, shard.count) === shard.index;

/**
 * The relay id of one shard: the service's relay id itself when there is one shard, so that a
 * service that does not shard keeps its checkpoint.
 */
export const shardRelayId = (relayId: string, shard: Shard): string =>
  shard.count === 1 ? relayId : `${relayId}.${shard.index}-of-${shard.count}`;

/** A claim on a share of a name's shards, held until stopped. */
export interface ShardClaim {
  /** Resolves once this process has been given its first share (possibly none). */
  readonly ready: Promise<void>;
  /** Gives the shards back (they go to the other claimants) and stops. */
  stop(): Promise<void>;
}

/** Options of {@link ShardClaims.claimShards}. */
export interface ClaimShardsOptions {
  /** What is sharded, e.g. `inventory-service.relay`: processes claiming one name share it. */
  readonly name: string;
  readonly count: number;
  /**
   * Called with the shards this process owns after each change of the share (sorted, possibly
   * empty), one call at a time. A process that loses a shard may learn it after the new owner
   * started: whatever the shard guards must fence a stale owner (a relay's transactional id does).
   */
  readonly onAssigned: (shards: readonly number[]) => Promise<void>;
}

/**
 * Port: shares `count` shards among the processes that claim the same name, each shard owned by
 * one of them; when one leaves or dies, its shards go to the others.
 */
export interface ShardClaims {
  claimShards(options: ClaimShardsOptions): Promise<ShardClaim>;
}
