import { setBounded } from '../bounded-map.js';
import { invalidArgument, SagaflowError } from '../errors.js';
import type { ReceivedEvent } from '../processor/processor.js';
import { viewVersionOf, type AnyViewDefinition } from './view.js';
import {
  VIEW_RECENT_MAX,
  viewFieldsOf,
  type ViewRecord,
  type ViewStore,
  type ViewTable,
} from './view-store.js';

/** Documents whose latest revision a projector remembers, so that it writes without reading. */
const CACHED_MAX = 10_000;
/** Event ids a projector remembers having applied, for reads that wait for one. */
const APPLIED_MAX = 10_000;
/** Longest key of a view document. */
const KEY_MAX = 500;
/** Largest document, as JSON characters: a clear refusal instead of the database's. */
const DOC_MAX = 4_000_000;
/** Writes lost in a row to other writers before the event is retried later. */
const CONFLICTS_MAX = 50;

/** The table of a view definition's version. */
export const viewTableOf = (definition: AnyViewDefinition): ViewTable => ({
  view: definition.name,
  version: viewVersionOf(definition),
  fields: definition.fields ?? {},
});

/** Whether an offset (a decimal string) is at or before another. */
const atOrBefore = (offset: string, last: string) => BigInt(offset) <= BigInt(last);

/**
 * Applies events to the documents of one view version, each event once: a document records the
 * offset of the last event applied from each partition (events of a partition come in order),
 * and each write is a new revision that fails if another process wrote that revision first (the
 * event is then applied to the newer document). The events of one document are applied one at a
 * time in this process.
 */
export class ViewProjector {
  readonly definition: AnyViewDefinition;
  readonly table: ViewTable;
  readonly #store: ViewStore;
  /** The latest revision this process wrote or read, by key. */
  readonly #latest = new Map<string, ViewRecord>();
  readonly #applied = new Map<string, true>();
  /** The work in hand per document: one event at a time. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(definition: AnyViewDefinition, store: ViewStore) {
    this.definition = definition;
    this.table = viewTableOf(definition);
    this.#store = store;
  }

  /** Whether this process applied the event (to any document of this view) lately. */
  hasApplied(eventId: string): boolean {
    return this.#applied.has(eventId);
  }

  /** Applies an event to the document it names, unless it was applied already. */
  async apply(event: ReceivedEvent): Promise<void> {
    const key = this.#keyOf(event);
    if (key === undefined) return;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.#applyTo(key, event));
    const chain = run.catch(() => {});
    this.#chains.set(key, chain);
    void chain.then(() => {
      if (this.#chains.get(key) === chain) this.#chains.delete(key);
    });
    return run;
  }

  #keyOf(event: ReceivedEvent): string | undefined {
    const key = this.#call('key', () => this.definition.key(event), event);
    if (key === undefined) return undefined;
    if (typeof key !== 'string' || key.length === 0 || key.length > KEY_MAX) {
      throw this.#refusal(
        event,
        `its key must be a string of 1 to ${KEY_MAX} characters (got ${JSON.stringify(key)})`,
      );
    }
    return key;
  }

  async #applyTo(key: string, event: ReceivedEvent): Promise<void> {
    const position = `${event.topic}/${event.partition}`;
    for (let conflicts = 0; ; conflicts += 1) {
      const current = this.#latest.get(key) ?? (await this.#store.get(this.table, key));
      const last = current?.positions[position];
      if (
        current !== undefined &&
        ((last !== undefined && atOrBefore(event.offset, last)) ||
          current.recent.includes(event.eventId))
      ) {
        this.#remember(key, current, event.eventId);
        return;
      }
      const before = structuredClone(current?.doc ?? this.#initial(key, event)) as object;
      const doc = this.#call('apply', () => this.definition.apply(before, event) as unknown, event);
      this.#check(doc, event);
      const record: ViewRecord = {
        key,
        doc,
        revision: (current?.revision ?? 0) + 1,
        positions: { ...current?.positions, [position]: event.offset },
        recent: [...(current?.recent ?? []), event.eventId].slice(-VIEW_RECENT_MAX),
        updatedAt: new Date().toISOString(),
      };
      if (await this.#store.write(this.table, record)) {
        this.#remember(key, record, event.eventId);
        return;
      }
      // Another process wrote this revision first: apply the event to the newer document.
      this.#latest.delete(key);
      if (conflicts >= CONFLICTS_MAX) {
        throw new SagaflowError(
          'CONCURRENCY_CONFLICT',
          `view ${this.table.view} v${this.table.version}: document '${key}' changed under ${CONFLICTS_MAX} writes in a row`,
          { retriable: true, context: { eventId: event.eventId } },
        );
      }
    }
  }

  #initial(key: string, event: ReceivedEvent): unknown {
    const doc = this.#call('initial', () => this.definition.initial(key) as unknown, event);
    this.#check(doc, event, 'initial');
    return doc;
  }

  #remember(key: string, record: ViewRecord, eventId: string): void {
    setBounded(this.#latest, key, record, CACHED_MAX);
    setBounded(this.#applied, eventId, true, APPLIED_MAX);
  }

  /** Refuses a document that is not a plain object, too large, or with a query field of another type. */
  #check(
    doc: unknown,
    event: ReceivedEvent,
    fn: 'apply' | 'initial' = 'apply',
  ): asserts doc is object {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw this.#refusal(event, `its ${fn} must return an object (got ${JSON.stringify(doc)})`);
    }
    let json: string;
    try {
      json = JSON.stringify(doc);
    } catch (error) {
      throw this.#refusal(
        event,
        `its ${fn} returned a document that is not JSON: ${String(error)}`,
      );
    }
    if (json.length > DOC_MAX) {
      throw this.#refusal(
        event,
        `its ${fn} returned a document of ${json.length} characters as JSON (at most ${DOC_MAX})`,
      );
    }
    try {
      viewFieldsOf(this.table, doc as Record<string, unknown>);
    } catch (error) {
      throw this.#refusal(event, `its ${fn} returned ${(error as Error).message}`);
    }
  }

  /** Runs the view's code; what it throws refuses the event (dead-lettered, with the reason). */
  #call<T>(fn: 'key' | 'initial' | 'apply', run: () => T, event: ReceivedEvent): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof SagaflowError) throw error;
      throw this.#refusal(
        event,
        `its ${fn} threw: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  #refusal(event: ReceivedEvent, reason: string): SagaflowError {
    const error = invalidArgument(
      'event',
      `${event.type} ${event.eventId} cannot be applied to the view ${this.table.view} v${this.table.version}: ${reason}`,
    );
    return new SagaflowError(error.code, error.message, {
      context: { ...error.context, eventId: event.eventId, sagaId: event.sagaId },
    });
  }
}
