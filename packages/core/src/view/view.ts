import { invalidArgument } from '../errors.js';
import type { EventEnvelope } from '../messaging/envelope.js';
import type { ReceivedEvent } from '../processor/processor.js';

/** The type of a view's query field. */
export type ViewFieldType = 'string' | 'number' | 'boolean';

/** A value of a query field. */
export type ViewValue = string | number | boolean;

/**
 * A view (a read model, or projection): one document per key, built from the events of some
 * topics, queried by key or by its declared query fields.
 *
 * @example
 * ```ts
 * const credit = defineView<{ customerId: string; available: number }>({
 *   name: 'customer-credit',
 *   topics: ['payment.account.events'],
 *   key: (event) => event.entityId,
 *   initial: (customerId) => ({ customerId, available: 0 }),
 *   apply: (doc, event) =>
 *     event.type === 'CreditGranted' ? { ...doc, available: doc.available + Number(event.payload.amount) } : doc,
 *   fields: { available: 'number' },
 * });
 * ```
 */
export interface ViewDefinition<D extends object = Record<string, unknown>> {
  /** Lower-case words joined by '-', e.g. `customer-credit`; names its consumer group and storage. */
  readonly name: string;
  /**
   * The version of the view's code. A new version is built from the first event of its topics,
   * beside the old one, which readers keep reading until the new one has caught up: deploy both
   * versions together, and drop the old one from a later deployment. @default 1
   */
  readonly version?: number;
  /** The event topics it reads. */
  readonly topics: readonly string[];
  /**
   * Decides from the envelope alone, before the payload is decoded, whether the view wants an
   * event. @default every event
   */
  readonly filter?: (envelope: EventEnvelope) => boolean;
  /**
   * The key of the document an event changes (1 to 500 characters); undefined when it changes
   * none.
   */
  readonly key: (event: ReceivedEvent) => string | undefined;
  /** The document of a key before its first event. */
  readonly initial: (key: string) => D;
  /**
   * The document after an event. Given a copy it may change; deterministic, as a redelivered
   * event is applied once and a rebuild applies every event again.
   */
  readonly apply: (doc: D, event: ReceivedEvent) => D;
  /**
   * Query fields: top-level fields of the document, with their type, that queries filter and
   * order by (each indexed in the store). A document's field is of that type, null, or absent.
   * @default none: documents are read by key only
   */
  readonly fields?: Readonly<Record<string, ViewFieldType>>;
}

/** A view definition of any document type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyViewDefinition = ViewDefinition<any>;

const NAME = /^[a-z][a-z0-9-]*$/;
const FIELD = /^[A-Za-z][A-Za-z0-9_]*$/;
const FIELD_TYPES: readonly ViewFieldType[] = ['string', 'number', 'boolean'];
/** Query fields a view declares at most (each is an index). */
export const VIEW_FIELDS_MAX = 16;

/** Checks and returns a view definition; a bad one throws naming the field. */
export function defineView<D extends object>(definition: ViewDefinition<D>): ViewDefinition<D> {
  if (typeof definition.name !== 'string' || !NAME.test(definition.name)) {
    throw invalidArgument(
      'name',
      `must be lower-case words joined by '-' (got '${String(definition.name)}')`,
    );
  }
  if (definition.name.length > 60) {
    throw invalidArgument('name', `must be at most 60 characters (got ${definition.name.length})`);
  }
  const version = definition.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw invalidArgument('version', `must be a positive integer (got ${String(version)})`);
  }
  if (!Array.isArray(definition.topics) || definition.topics.length === 0) {
    throw invalidArgument('topics', 'must name at least one topic');
  }
  for (const [i, topic] of definition.topics.entries()) {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw invalidArgument(`topics[${i}]`, 'must be a topic name');
    }
  }
  for (const fn of ['key', 'initial', 'apply'] as const) {
    if (typeof definition[fn] !== 'function') throw invalidArgument(fn, 'must be a function');
  }
  if (definition.filter !== undefined && typeof definition.filter !== 'function') {
    throw invalidArgument('filter', 'must be a function');
  }
  const fields = definition.fields ?? {};
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw invalidArgument('fields', 'must map field names to types');
  }
  const names = Object.keys(fields);
  if (names.length > VIEW_FIELDS_MAX) {
    throw invalidArgument('fields', `may declare at most ${VIEW_FIELDS_MAX} (got ${names.length})`);
  }
  for (const [field, type] of Object.entries(fields)) {
    if (!FIELD.test(field)) {
      throw invalidArgument(`fields.${field}`, 'must be a letter then letters, digits or _');
    }
    if (!FIELD_TYPES.includes(type)) {
      throw invalidArgument(
        `fields.${field}`,
        `must be one of ${FIELD_TYPES.join(', ')} (got '${String(type)}')`,
      );
    }
  }
  return { ...definition, version, fields };
}

/** The version of a view definition (1 when it names none). */
export const viewVersionOf = (definition: AnyViewDefinition): number => definition.version ?? 1;
