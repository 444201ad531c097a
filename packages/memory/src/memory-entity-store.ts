import type {
  OutboxBacklog,
  AppendOutcome,
  Commit,
  CommitRef,
  EntitySnapshot,
  EntityStore,
  RelayBatch,
  StateReplay,
  Shard,
} from '@sagaflow/core';
import { inShard } from '@sagaflow/core';

interface Stored {
  readonly commit: Commit;
  published: boolean;
}

/**
 * In-memory {@link EntityStore}, for fast tests and the embedded demo. Passes the same contract
 * suite as the MongoDB store. Values are copied in and out, as a database would.
 */
export class MemoryEntityStore implements EntityStore {
  readonly #types = new Map<string, Map<string, Stored[]>>();
  readonly #batches = new Map<string, RelayBatch>();

  #entities(entityType: string): Map<string, Stored[]> {
    let entities = this.#types.get(entityType);
    if (entities === undefined) {
      entities = new Map();
      this.#types.set(entityType, entities);
    }
    return entities;
  }

  prepare(entityType: string, _replay?: StateReplay): Promise<void> {
    this.#entities(entityType);
    return Promise.resolve();
  }

  load<S>(entityType: string, entityId: string): Promise<EntitySnapshot<S> | undefined> {
    const last = this.#entities(entityType).get(entityId)?.at(-1)?.commit;
    return Promise.resolve(
      last === undefined
        ? undefined
        : { state: structuredClone(last.state) as S, version: last.version },
    );
  }

  append<S>(commit: Commit<S>): Promise<AppendOutcome<S>> {
    const entities = this.#entities(commit.entityType);
    const history = entities.get(commit.entityId) ?? [];
    const existing = history.find((s) => s.commit.causationKey === commit.causationKey);
    if (existing !== undefined) {
      return Promise.resolve({
        status: 'duplicate',
        existing: structuredClone(existing.commit) as Commit<S>,
      });
    }
    if (history.some((s) => s.commit.version === commit.version)) {
      return Promise.resolve({ status: 'conflict' });
    }
    // A silent commit has nothing to publish.
    history.push({ commit: structuredClone(commit), published: commit.silent === true });
    history.sort((a, b) => a.commit.version - b.commit.version);
    entities.set(commit.entityId, history);
    return Promise.resolve({ status: 'appended' });
  }

  unpublished(
    entityType: string,
    limit: number,
    options: { readonly shard?: Shard } = {},
  ): Promise<Commit[]> {
    const pending = [...this.#entities(entityType).entries()]
      .filter(([entityId]) => inShard(entityId, options.shard))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([, history]) => history.filter((s) => !s.published).map((s) => s.commit));
    return Promise.resolve(structuredClone(pending.slice(0, limit)));
  }

  outboxBacklog(entityType: string): Promise<OutboxBacklog> {
    const pending = [...this.#entities(entityType).values()].flatMap((history) =>
      history.filter((s) => !s.published).map((s) => s.commit.committedAt),
    );
    const oldestAt = pending.sort()[0];
    return Promise.resolve({
      pending: pending.length,
      ...(oldestAt === undefined ? {} : { oldestAt }),
    });
  }

  /** The stored commit of a version written for a causation key. */
  #stored(
    entityType: string,
    { entityId, version, causationKey }: Pick<Commit, 'entityId' | 'version' | 'causationKey'>,
  ): Stored | undefined {
    return this.#entities(entityType)
      .get(entityId)
      ?.find((s) => s.commit.version === version && s.commit.causationKey === causationKey);
  }

  isPublished(commit: CommitRef): Promise<boolean> {
    return Promise.resolve(this.#stored(commit.entityType, commit)?.published ?? false);
  }

  markPublished(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version' | 'causationKey'>[],
  ): Promise<void> {
    for (const commit of commits) {
      const stored = this.#stored(entityType, commit);
      if (stored !== undefined) stored.published = true;
    }
    return Promise.resolve();
  }

  compactable(entityType: string, committedBefore: string, limit: number): Promise<Commit[]> {
    const found = [...this.#entities(entityType).values()].flatMap((history) =>
      history
        .slice(0, -1)
        .filter((s) => s.published && s.commit.committedAt < committedBefore)
        .map((s) => s.commit),
    );
    found.sort((a, b) =>
      a.committedAt < b.committedAt ? -1 : a.committedAt > b.committedAt ? 1 : 0,
    );
    return Promise.resolve(structuredClone(found.slice(0, limit)));
  }

  deleteCommits(
    entityType: string,
    commits: readonly Pick<Commit, 'entityId' | 'version'>[],
  ): Promise<void> {
    const entities = this.#entities(entityType);
    for (const { entityId, version } of commits) {
      const history = entities.get(entityId);
      if (history === undefined || history.at(-1)?.commit.version === version) continue;
      entities.set(
        entityId,
        history.filter((s) => s.commit.version !== version),
      );
    }
    return Promise.resolve();
  }

  saveRelayBatch(batch: RelayBatch): Promise<void> {
    // The two latest batches of each relay process: odd and even sequence numbers.
    this.#batches.set(
      `${batch.relayId}/${batch.instance}/${batch.sequence % 2}`,
      structuredClone(batch),
    );
    return Promise.resolve();
  }

  loadRelayBatch(
    relayId: string,
    instance: string,
    sequence: number,
  ): Promise<RelayBatch | undefined> {
    const batch = this.#batches.get(`${relayId}/${instance}/${sequence % 2}`);
    return Promise.resolve(
      batch === undefined || batch.sequence !== sequence ? undefined : structuredClone(batch),
    );
  }

  deleteRelayBatches(
    relayId: string,
    only?: { readonly instance: string; readonly sequence: number },
  ): Promise<void> {
    for (const [key, batch] of this.#batches) {
      const matches =
        batch.relayId === relayId &&
        (only === undefined ||
          (batch.instance === only.instance && batch.sequence === only.sequence));
      if (matches) this.#batches.delete(key);
    }
    return Promise.resolve();
  }
}
