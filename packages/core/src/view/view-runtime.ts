import { defaultBackoff, sleep } from '../backoff.js';
import { invalidArgument, SagaflowError } from '../errors.js';
import type { OffsetReader } from '../messaging/message-bus.js';
import { defineProcessor, type AnyProcessorDefinition } from '../processor/processor.js';
import { BackgroundLoop } from '../service/background-loop.js';
import { viewVersionOf, type AnyViewDefinition } from './view.js';
import { ViewProjector } from './view-projector.js';
import {
  checkViewQuery,
  type ViewPage,
  type ViewQuery,
  type ViewStore,
  type ViewTable,
} from './view-store.js';

/** Options of a read by key. */
export interface ViewReadOptions {
  /**
   * An event id: the read waits until the view has applied that event to the document
   * (read-your-writes), for at most `waitMs`, then fails with `VIEW_BEHIND` (retriable). The
   * document keeps the ids of its latest 32 events, and the process that applies them remembers
   * more. @default no wait
   */
  readonly after?: string;
  /** @default 5000 */
  readonly waitMs?: number;
}

/** Reads one view: the version that has caught up (the newest one deployed before any has). */
export interface ViewReader<D = unknown> {
  readonly name: string;
  /** The document of a key, if any event made it. */
  get(key: string, options?: ViewReadOptions): Promise<D | undefined>;
  /** One page of the documents that match the query. */
  query(query?: ViewQuery): Promise<ViewPage<D>>;
  /** The version read now. */
  version(): Promise<number>;
}

/** How long a reader keeps the active version it read. */
const ACTIVE_TTL_MS = 1000;
/** How often a version that has not caught up yet compares its group's offsets with the ends. */
const CATCH_UP_INTERVAL_MS = 1000;

/** The consumer-group processor name of a view version: `view.<name>.v<version>`. */
export const viewProcessorName = (definition: AnyViewDefinition) =>
  `view.${definition.name}.v${viewVersionOf(definition)}`;

class Reader implements ViewReader {
  readonly name: string;
  readonly #store: ViewStore;
  readonly #tables: ReadonlyMap<number, ViewTable>;
  readonly #projectors: ReadonlyMap<number, ViewProjector>;
  #active: { version: number; at: number } | undefined;

  constructor(name: string, store: ViewStore, projectors: readonly ViewProjector[]) {
    this.name = name;
    this.#store = store;
    this.#tables = new Map(projectors.map((p) => [p.table.version, p.table]));
    this.#projectors = new Map(projectors.map((p) => [p.table.version, p]));
  }

  async version(): Promise<number> {
    if (this.#active !== undefined && Date.now() - this.#active.at < ACTIVE_TTL_MS) {
      return this.#active.version;
    }
    const active = await this.#store.activeVersion(this.name);
    const deployed = [...this.#tables.keys()];
    // Before any version caught up, the newest deployed; an active one not deployed here (a
    // newer process's) is read too, with the fields of the newest deployed here.
    const version = active ?? Math.max(...deployed);
    this.#active = { version, at: Date.now() };
    return version;
  }

  async #table(): Promise<ViewTable> {
    const version = await this.version();
    const newest = this.#tables.get(Math.max(...this.#tables.keys()))!;
    return this.#tables.get(version) ?? { ...newest, version };
  }

  async get(key: string, options: ViewReadOptions = {}): Promise<unknown> {
    if (typeof key !== 'string' || key.length === 0) {
      throw invalidArgument('key', 'must be a non-empty string');
    }
    const { after, waitMs = 5000 } = options;
    if (after !== undefined && (typeof after !== 'string' || after.length === 0)) {
      throw invalidArgument('after', 'must be an event id');
    }
    if (!Number.isFinite(waitMs) || waitMs < 0) {
      throw invalidArgument('waitMs', `must be a number ≥ 0 (got ${String(waitMs)})`);
    }
    const table = await this.#table();
    const deadline = Date.now() + waitMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const record = await this.#store.get(table, key);
      if (
        after === undefined ||
        record?.recent.includes(after) === true ||
        (record !== undefined && this.#projectors.get(table.version)?.hasApplied(after) === true)
      ) {
        return record?.doc;
      }
      if (Date.now() >= deadline) {
        throw new SagaflowError(
          'VIEW_BEHIND',
          `the view ${this.name} v${table.version} has not applied event ${after} to '${key}' within ${waitMs} ms`,
          { retriable: true, context: { eventId: after } },
        );
      }
      await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
    }
  }

  async query(query?: ViewQuery): Promise<ViewPage> {
    const table = await this.#table();
    const checked = checkViewQuery(table, query);
    return this.#store.query(table, checked);
  }
}

/** Options of {@link ViewRuntime}. */
export interface ViewRuntimeOptions {
  readonly views: readonly AnyViewDefinition[];
  readonly store: ViewStore;
  /** Reads how far each view version's consumer group got, to tell when it has caught up. */
  readonly offsets: OffsetReader;
  /** The consumer group of a processor. */
  readonly groupOf: (processor: AnyProcessorDefinition) => string;
  readonly onError?: (error: unknown) => void;
}

/**
 * A service's views: a projector and a consumer-group processor per view version, a reader per
 * view, and for each version not yet read, a loop that makes it the one read once its group has
 * consumed every event that its topics held when it started.
 */
export class ViewRuntime {
  readonly processors: readonly AnyProcessorDefinition[];
  readonly #options: ViewRuntimeOptions;
  readonly #projectors: readonly ViewProjector[];
  readonly #readers = new Map<string, Reader>();
  readonly #loops: BackgroundLoop[] = [];

  constructor(options: ViewRuntimeOptions) {
    this.#options = options;
    const seen = new Set<string>();
    for (const view of options.views) {
      const id = `${view.name}@${viewVersionOf(view)}`;
      if (seen.has(id)) {
        throw invalidArgument('views', `hold ${view.name} version ${viewVersionOf(view)} twice`);
      }
      seen.add(id);
    }
    this.#projectors = options.views.map((view) => new ViewProjector(view, options.store));
    const byName = new Map<string, ViewProjector[]>();
    for (const projector of this.#projectors) {
      const list = byName.get(projector.table.view) ?? [];
      list.push(projector);
      byName.set(projector.table.view, list);
    }
    for (const [name, projectors] of byName) {
      this.#readers.set(name, new Reader(name, options.store, projectors));
    }
    this.processors = this.#projectors.map((projector) => {
      const { definition } = projector;
      return defineProcessor({
        name: viewProcessorName(definition),
        topics: definition.topics,
        handlers: {},
        ...(definition.filter === undefined ? {} : { filter: definition.filter }),
        fallback: (event) => projector.apply(event),
        // A document records the last offset applied per partition: a partition's events go in order.
        ordering: 'partition',
      });
    });
  }

  /** The reader of a view. */
  reader<D = unknown>(name: string): ViewReader<D> {
    const reader = this.#readers.get(name);
    if (reader === undefined) {
      throw invalidArgument(
        'name',
        `names no view here (got '${name}'; views: ${[...this.#readers.keys()].join(', ') || 'none'})`,
      );
    }
    return reader as ViewReader<D>;
  }

  /** Prepares the storage of every view version. */
  async prepare(): Promise<void> {
    for (const projector of this.#projectors) await this.#options.store.prepare(projector.table);
  }

  /** Starts watching the versions not read yet until they have caught up. */
  start(): void {
    for (const [i, projector] of this.#projectors.entries()) {
      const processor = this.processors[i]!;
      let ends: Map<string, ReadonlyMap<number, bigint>> | undefined;
      const loop: BackgroundLoop = new BackgroundLoop(
        async (): Promise<boolean> => {
          const { store, offsets, groupOf } = this.#options;
          const { view, version } = projector.table;
          const active = await store.activeVersion(view);
          if (active !== undefined && active >= version) return this.#done(loop);
          if (ends === undefined) {
            const read = new Map<string, ReadonlyMap<number, bigint>>();
            for (const topic of processor.topics) read.set(topic, await offsets.endOffsets(topic));
            ends = read;
          }
          const group = groupOf(processor);
          for (const [topic, end] of ends) {
            const committed = await offsets.committedOffsets(group, topic);
            for (const [partition, last] of end) {
              if (last > 0n && (committed.get(partition) ?? 0n) < last) return false;
            }
          }
          await store.activate(view, version);
          return this.#done(loop);
        },
        {
          idleMs: CATCH_UP_INTERVAL_MS,
          backoff: defaultBackoff,
          onError: (error) => this.#options.onError?.(error),
        },
      );
      this.#loops.push(loop);
      loop.start();
    }
  }

  /** Ends a loop from its own round (its stop waits for the round). */
  #done(loop: BackgroundLoop): false {
    void Promise.resolve().then(() => loop.stop());
    return false;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#loops.splice(0).map((loop) => loop.stop()));
  }
}
