import type { BackoffPolicy } from '../backoff.js';
import { CommitCompactor } from '../entity/commit-compactor.js';
import { replayOf, type EntityDefinition } from '../entity/entity.js';
import type { Commit, CommitRecord } from '../entity/commit.js';
import { EntityService, type CommandOrigin, type CommandResult } from '../entity/entity-service.js';
import type { EntityStore } from '../entity/entity-store.js';
import { eventsTopic } from '../messaging/envelope.js';
import { sagaNoticeTopic } from '../saga/saga-notice.js';
import { invalidArgument, SagaflowError } from '../errors.js';
import type { EventSerde } from '../messaging/event-serde.js';
import type {
  MessagePublisher,
  MessageSubscriber,
  OffsetReader,
  Pingable,
  Subscription,
  TopicAdmin,
} from '../messaging/message-bus.js';
import { ShardedRelay } from '../messaging/sharded-relay.js';
import type { ShardClaims } from '../messaging/shards.js';
import {
  backgroundReporter,
  noMetrics,
  silentLogger,
  type SagaflowLogger,
  type SagaflowMetrics,
} from '../telemetry/instrumentation.js';
import {
  ProcessorRuntime,
  relayDeadLetterTopic,
  serviceDeadLetterTopics,
  serviceReplayTopics,
  type AnyProcessorDefinition,
  type CommandEndpoint,
} from '../processor/processor.js';
import { commandsTopic } from '../messaging/envelope.js';
import type { AnyViewDefinition } from '../view/view.js';
import { ViewRuntime, type ViewReader } from '../view/view-runtime.js';
import type { ViewStore } from '../view/view-store.js';

/** The bus a service needs: publish, subscribe, read offsets, create topics. */
export type ServiceBus = MessagePublisher &
  MessageSubscriber &
  OffsetReader &
  TopicAdmin &
  Partial<Pingable> &
  Partial<ShardClaims>;

/** An entity definition of any state, commands and events. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEntityDefinition = EntityDefinition<any, any, any>;

/** Options of {@link SagaflowService}. */
export interface SagaflowServiceOptions {
  /** The service name, e.g. `inventory-service`: names consumer groups, the relay, events. */
  readonly name: string;
  readonly store: EntityStore & Partial<Pingable>;
  /**
   * The message bus. One that shares shards among processes (`claimShards`, as the Kafka and
   * in-memory buses do) lets the service's processes share the outbox relays; with another, each
   * process relays every shard.
   */
  readonly bus: ServiceBus;
  readonly serde: EventSerde & { registerAll?(): Promise<unknown> };
  /** The entities this service owns: it stores them and publishes their events. */
  readonly entities: readonly AnyEntityDefinition[];
  /** The processors this service runs. @default [] */
  readonly processors?: readonly AnyProcessorDefinition[];
  /**
   * The views this service keeps (see `defineView`), each with its own consumer group
   * (`<service>.view.<name>.v<version>`); read them with {@link SagaflowService.view}. Several
   * versions of a view may run side by side: readers read the newest that has caught up.
   * @default []
   */
  readonly views?: readonly AnyViewDefinition[];
  /** Where the views' documents live; needed with views. @default none */
  readonly viewStore?: ViewStore;
  /** Command topics of this service's entities that it consumes. @default [] */
  readonly commandEndpoints?: readonly CommandEndpoint[];
  /**
   * Further topics to create at start, e.g. the command topics that outbox commands go to: the
   * relay must not meet a missing topic, which would hold back everything behind it. @default []
   */
  readonly topics?: readonly string[];
  /** Partitions of the topics created at start. @default 3 */
  readonly partitions?: number;
  /**
   * The outbox relays: commits per batch, how often other processes' commits are looked for, and
   * the outbox shards that the service's processes share (each published by one process at a
   * time, with its own transactional id; the same count in every process). See
   * `ShardedRelayOptions`. @default one shard, the relay's own defaults
   */
  readonly relay?: {
    readonly batchSize?: number;
    readonly idleMs?: number;
    readonly shards?: number;
  };
  /** Commit compaction; `false` turns it off. @default on, with the compactor's defaults */
  readonly compaction?: false | { readonly minRetentionMs?: number; readonly intervalMs?: number };
  readonly processing?: {
    readonly maxAttempts?: number;
    readonly backoff?: BackoffPolicy;
    /** See the processor runtime's `noticeAfterMs`. @default 1000 */
    readonly noticeAfterMs?: number;
  };
  /**
   * Called with each commit before it is appended (see the entity service's `beforeAppend`).
   * @default none
   */
  readonly beforeAppend?: (commit: Commit) => Promise<void>;
  /** See the entity service's `beforeAppendToleratesConflicts`. @default false */
  readonly beforeAppendToleratesConflicts?: boolean;
  /** Called after each commit is stored, after the relay was woken. @default none */
  readonly onCommitted?: (commit: Commit) => void;
  /**
   * Called by the relay between publishing a batch and marking it (fault-injection tests).
   * @default none
   */
  readonly afterPublish?: (commits: readonly CommitRecord[]) => Promise<void> | void;
  /** Told about background failures (relay, compaction, retries). @default ignore */
  readonly onError?: (error: unknown, where: string) => void;
  /**
   * Counts and times commands, messages, publications, dead letters and restarts (see
   * `PrometheusMetrics` in `@sagaflow/observability`). @default none
   */
  readonly metrics?: SagaflowMetrics;
  /** Lines about messages (see the processor runtime) and background failures. @default none */
  readonly logger?: SagaflowLogger;
}

/** What a service has left to do, read on demand (for gauges). */
export interface ServiceStats {
  /** Unpublished commits per entity type, and since when the oldest waits. */
  readonly outbox: readonly {
    readonly entityType: string;
    readonly pending: number;
    readonly oldestAgeSeconds: number;
  }[];
  /** Messages not yet handled per consumer group, topic and partition (end − committed). */
  readonly lag: readonly {
    readonly group: string;
    readonly topic: string;
    readonly partition: number;
    readonly lag: number;
  }[];
}

/**
 * How many messages each consumer group has not consumed yet, per topic and partition: the end
 * offset minus the committed one (a partition without a committed offset counts from 0; the end
 * offsets of transactional topics include commit markers, so a caught-up group may show a small
 * lag until its next commit).
 */
export async function consumerLag(
  offsets: OffsetReader,
  groups: readonly { readonly group: string; readonly topics: readonly string[] }[],
): Promise<ServiceStats['lag']> {
  const ends = new Map<string, Promise<ReadonlyMap<number, bigint>>>();
  const endsOf = (topic: string) => {
    let found = ends.get(topic);
    if (found === undefined) ends.set(topic, (found = offsets.endOffsets(topic)));
    return found;
  };
  return (
    await Promise.all(
      groups.flatMap(({ group, topics }) =>
        topics.map(async (topic) => {
          const [end, committed] = await Promise.all([
            endsOf(topic),
            offsets.committedOffsets(group, topic),
          ]);
          return [...end].map(([partition, last]) => ({
            group,
            topic,
            partition,
            lag: Number(last - (committed.get(partition) ?? 0n)),
          }));
        }),
      ),
    )
  ).flat();
}

/** What readiness found. */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<
    Record<
      'service' | 'database' | 'kafka',
      {
        ok: boolean;
        error?: string;
        /** The server answers a fresh client but not this process's: a fresh process is due. */
        stuck?: boolean;
      }
    >
  >;
}

/**
 * A sagaflow service: its entities with their outbox relay and compaction, its processors, and
 * its life cycle. `start` creates missing topics, registers schemas, prepares storage, starts the
 * relay and the processors; `stop` lets in-flight messages finish and commit, publishes what the
 * relay has in hand, and leaves the consumer groups.
 */
export class SagaflowService {
  readonly #options: SagaflowServiceOptions;
  readonly commands: EntityService;
  readonly #relay: ShardedRelay | undefined;
  readonly #compactor: CommitCompactor | undefined;
  readonly #runtime: ProcessorRuntime;
  readonly #views: ViewRuntime | undefined;
  /** The processors it runs: its own and its views'. */
  readonly #processors: readonly AnyProcessorDefinition[];
  readonly #subscriptions: Subscription[] = [];
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(options: SagaflowServiceOptions) {
    if (!/^[a-z][a-z0-9-]*$/.test(options.name)) {
      throw invalidArgument(
        'name',
        `must be lower-case letters, digits and '-' (got '${options.name}')`,
      );
    }
    const views = options.views ?? [];
    if (
      options.entities.length === 0 &&
      (options.processors ?? []).length === 0 &&
      views.length === 0
    ) {
      throw invalidArgument('entities', 'a service needs at least one entity, processor or view');
    }
    if (views.length > 0 && options.viewStore === undefined) {
      throw invalidArgument(
        'viewStore',
        `is needed to keep the views (${views.map((v) => v.name).join(', ')})`,
      );
    }
    const types = options.entities.map((e) => e.type);
    const twice = types.find((t, i) => types.indexOf(t) !== i);
    if (twice !== undefined)
      throw invalidArgument('entities', `name the entity type '${twice}' twice`);
    this.#options = options;
    const metrics = options.metrics ?? noMetrics;
    const logger = options.logger ?? silentLogger;
    const onError = backgroundReporter({
      service: options.name,
      metrics,
      logger,
      onError: options.onError,
    });
    this.#views =
      views.length === 0
        ? undefined
        : new ViewRuntime({
            views,
            store: options.viewStore!,
            offsets: options.bus,
            groupOf: (processor) => this.#runtime.groupOf(processor),
            onError: (error) => onError(error, 'views'),
          });
    this.#processors = [...(options.processors ?? []), ...(this.#views?.processors ?? [])];
    const names = this.#processors.map((p) => p.name);
    const sameName = names.find((n, i) => names.indexOf(n) !== i);
    if (sameName !== undefined)
      throw invalidArgument('processors', `name the processor '${sameName}' twice`);
    this.#relay =
      types.length === 0
        ? undefined
        : new ShardedRelay({
            relayId: `${options.name}.relay`,
            store: options.store,
            publisher: options.bus,
            ...(options.bus.claimShards === undefined
              ? {}
              : { claims: options.bus as ShardClaims }),
            serde: options.serde,
            entityTypes: types,
            deadLetterTopic: relayDeadLetterTopic(options.name),
            ...options.relay,
            ...(options.afterPublish === undefined ? {} : { afterPublish: options.afterPublish }),
            metrics,
            onError: (error) => onError(error, 'relay'),
          });
    this.commands = new EntityService({
      store: options.store,
      service: options.name,
      metrics,
      onCommitted: (commit) => {
        this.#relay?.notify(commit);
        options.onCommitted?.(commit);
      },
      ...(options.beforeAppend === undefined ? {} : { beforeAppend: options.beforeAppend }),
      ...(options.beforeAppendToleratesConflicts === true
        ? { beforeAppendToleratesConflicts: true }
        : {}),
      ...(options.serde.check === undefined
        ? {}
        : { checkEvent: (type, payload) => options.serde.check!(type, payload) }),
    });
    this.#compactor =
      options.compaction === false || types.length === 0
        ? undefined
        : new CommitCompactor({
            store: options.store,
            offsets: options.bus,
            entityTypes: types,
            ...options.compaction,
            onError: (error) => onError(error, 'compaction'),
          });
    this.#runtime = new ProcessorRuntime({
      service: options.name,
      subscriber: options.bus,
      publisher: options.bus,
      serde: options.serde,
      entities: this.commands,
      ...options.processing,
      metrics,
      logger,
      onError: (error) => options.onError?.(error, 'processing'),
    });
  }

  /** Consumer group of one of this service's processors. */
  groupOf(processor: AnyProcessorDefinition): string {
    return this.#runtime.groupOf(processor);
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') {
      throw new SagaflowError('INVALID_ARGUMENT', `${this.#options.name} was already started`);
    }
    this.#state = 'starting';
    const { bus, store, serde, entities } = this.#options;
    const processors = this.#processors;
    const endpoints = this.#options.commandEndpoints ?? [];
    const partitions = this.#options.partitions ?? 3;
    await serde.registerAll?.();
    const wanted = [
      ...entities.map((e) => ({ topic: eventsTopic(e.type), partitions })),
      ...processors.flatMap((p) => p.topics.map((topic) => ({ topic, partitions }))),
      ...endpoints.map((e) => ({ topic: commandsTopic(e.entity.type), partitions })),
      ...serviceDeadLetterTopics(this.#options.name, processors, endpoints, {
        relay: this.#relay !== undefined,
      }).map((topic) => ({ topic, partitions: 1 })),
      ...serviceReplayTopics(this.#options.name, processors, endpoints).map((topic) => ({
        topic,
        partitions: 1,
      })),
      ...(this.#options.topics ?? []).map((topic) => ({ topic, partitions })),
      // Where a consumer tells the admin's tracker of a message of a saga that waits.
      ...(processors.length + endpoints.length === 0
        ? []
        : [{ topic: sagaNoticeTopic, partitions }]),
    ];
    // A topic named twice (a processor reading this service's own events, say) is created once.
    await bus.ensureTopics([...new Map(wanted.map((t) => [t.topic, t])).values()]);
    for (const entity of entities) await store.prepare(entity.type, replayOf(entity));
    await this.#views?.prepare();
    await this.#relay?.start();
    this.#compactor?.start();
    for (const processor of processors) {
      const subscription = await this.#runtime.start(processor);
      this.#subscriptions.push(subscription);
      await subscription.ready;
    }
    for (const endpoint of endpoints) {
      if (!entities.includes(endpoint.entity)) {
        throw invalidArgument(
          'commandEndpoints',
          `${endpoint.entity.type} is not an entity of ${this.#options.name}`,
        );
      }
      const subscription = await this.#runtime.startCommands(endpoint);
      this.#subscriptions.push(subscription);
      await subscription.ready;
    }
    this.#views?.start();
    this.#state = 'running';
  }

  /** The reader of one of this service's views; an unknown name throws naming it. */
  view<D = unknown>(name: string): ViewReader<D> {
    if (this.#views === undefined) {
      throw invalidArgument(
        'name',
        `names no view here (got '${name}'; ${this.#options.name} keeps none)`,
      );
    }
    return this.#views.reader<D>(name);
  }

  /** Sends a command to one of this service's entities. */
  execute<
    S,
    C extends Record<string, object>,
    E extends Record<string, object>,
    K extends keyof C & string,
  >(
    definition: EntityDefinition<S, C, E>,
    entityId: string,
    command: K,
    payload: C[K],
    origin?: CommandOrigin,
  ): Promise<CommandResult<S>> {
    if (!this.#options.entities.includes(definition)) {
      throw invalidArgument(
        'definition',
        `${definition.type} is not an entity of ${this.#options.name}`,
      );
    }
    return this.commands.execute(definition, entityId, command, payload, origin);
  }

  /**
   * The outbox backlog of each entity type and the lag of each consumer group of this service,
   * read from the store and the bus now.
   */
  async stats(): Promise<ServiceStats> {
    const { store, bus, entities } = this.#options;
    const now = Date.now();
    const outbox = await Promise.all(
      entities.map(async ({ type }) => {
        const backlog = await store.outboxBacklog(type);
        const oldest = backlog.oldestAt === undefined ? now : Date.parse(backlog.oldestAt);
        return {
          entityType: type,
          pending: backlog.pending,
          oldestAgeSeconds: Math.max(0, (now - oldest) / 1000),
        };
      }),
    );
    const groups = [
      ...this.#processors.map((p) => ({
        group: this.#runtime.groupOf(p),
        topics: p.topics,
      })),
      ...(this.#options.commandEndpoints ?? []).map((e) => ({
        group: this.#runtime.commandGroupOf(e),
        topics: [commandsTopic(e.entity.type)],
      })),
    ];
    const lag = await consumerLag(bus, groups);
    return { outbox, lag };
  }

  /** Ready when started and both the database and Kafka answer. */
  async readiness(): Promise<Readiness> {
    const probe = async (target: Partial<Pingable>) => {
      if (target.ping === undefined) return { ok: true };
      try {
        await target.ping();
        return { ok: true };
      } catch (error) {
        return {
          ok: false,
          error: error instanceof Error ? error.message : String(error),
          ...(error instanceof SagaflowError && error.code === 'CLIENT_STUCK'
            ? { stuck: true }
            : {}),
        };
      }
    };
    const [database, kafka] = await Promise.all([
      probe(this.#options.store),
      probe(this.#options.bus),
    ]);
    const service =
      this.#state === 'running'
        ? { ok: true }
        : { ok: false, error: `the service is ${this.#state}` };
    return { ready: service.ok && database.ok && kafka.ok, checks: { service, database, kafka } };
  }

  /** Graceful shutdown; safe to call more than once. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    this.#runtime.stopping();
    await this.#views?.stop();
    await Promise.all(this.#subscriptions.splice(0).map((s) => s.stop()));
    await this.#relay?.stop();
    await this.#compactor?.stop();
    await this.#options.bus.close();
    this.#state = 'stopped';
  }
}
