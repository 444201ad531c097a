import type { Commit } from '../entity/commit.js';
import { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
import {
  checkShardCount,
  shardOf,
  shardRelayId,
  type ShardClaim,
  type ShardClaims,
} from './shards.js';

/** Options of {@link ShardedRelay}. */
export interface ShardedRelayOptions extends Omit<OutboxRelayOptions, 'shard'> {
  /**
   * Outbox shards: each is published by one relay at a time, with its own relay id (and so its own
   * transactional id), so that the processes of a service share the publishing. Change it with
   * every process of the service stopped (processes with different counts would relay the same
   * commits side by side); the change re-publishes at most the batch that each old shard had in
   * hand. @default 1
   */
  readonly shards?: number;
  /**
   * Shares the shards with the service's other processes (the Kafka bus does it with a consumer
   * group). Without it, this process publishes every shard. @default none
   */
  readonly claims?: ShardClaims;
}

/**
 * The outbox relays of one service process: one {@link OutboxRelay} per shard this process owns,
 * started and stopped as the shards move between the processes. A shard's relay id is the
 * service's relay id with the shard appended (the relay id itself with one shard).
 */
export class ShardedRelay {
  readonly #options: ShardedRelayOptions;
  readonly #count: number;
  readonly #relays = new Map<number, OutboxRelay>();
  #claim: ShardClaim | undefined;
  /** Changes of the share, one at a time. */
  #changes: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: ShardedRelayOptions) {
    const count = options.shards ?? 1;
    checkShardCount(count, 'relay.shards');
    this.#options = options;
    this.#count = count;
    // Checks the other options at once, as a relay of its own would.
    this.#relayOf(0);
  }

  #relayOf(index: number): OutboxRelay {
    const { shards: _shards, claims: _claims, ...options } = this.#options;
    const shard = { index, count: this.#count };
    return new OutboxRelay({
      ...options,
      relayId: shardRelayId(options.relayId, shard),
      ...(this.#count === 1 ? {} : { shard }),
    });
  }

  /** The shards whose relays run in this process, sorted. */
  get owned(): readonly number[] {
    return [...this.#relays.keys()].sort((a, b) => a - b);
  }

  /** Claims this process's share of the shards and starts their relays. */
  async start(): Promise<void> {
    const { claims, relayId } = this.#options;
    if (claims === undefined) {
      await this.#assign(Array.from({ length: this.#count }, (_, i) => i));
      return;
    }
    this.#claim = await claims.claimShards({
      name: relayId,
      count: this.#count,
      onAssigned: (shards) => this.#assign(shards),
    });
    await this.#claim.ready;
  }

  #assign(shards: readonly number[]): Promise<void> {
    const change = this.#changes.then(async () => {
      if (this.#stopped) return;
      const wanted = new Set(shards);
      const lost = [...this.#relays].filter(([index]) => !wanted.has(index));
      for (const [index] of lost) this.#relays.delete(index);
      // A lost shard's relay finishes its batch in hand, unless its new owner's relay (in
      // another process, told at the same time) reads the checkpoint first: that read fences it,
      // so that its batch fails rather than go out after the new owner read the outbox.
      await Promise.all(lost.map(([, relay]) => relay.stop()));
      for (const index of wanted) {
        if (this.#relays.has(index)) continue;
        const relay = this.#relayOf(index);
        this.#relays.set(index, relay);
        relay.start();
      }
    });
    this.#changes = change.catch(() => {});
    return change;
  }

  /**
   * Hands a commit of this process to its shard's relay, if this process owns the shard (another
   * process's relay finds it in the outbox); without one, wakes every relay.
   */
  notify(commit?: Commit): void {
    if (commit === undefined) {
      for (const relay of this.#relays.values()) relay.notify();
      return;
    }
    this.#relays.get(shardOf(commit.entityId, this.#count))?.notify(commit);
  }

  /**
   * Stops the relays, each finishing its batch in hand, then gives the shards back: their next
   * owners start where these relays stopped.
   */
  async stop(): Promise<void> {
    await this.#changes;
    this.#stopped = true;
    const relays = [...this.#relays.values()];
    this.#relays.clear();
    await Promise.all(relays.map((relay) => relay.stop()));
    await this.#claim?.stop();
  }
}
