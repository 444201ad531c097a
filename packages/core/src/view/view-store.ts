import { invalidArgument } from '../errors.js';
import type { ViewFieldType, ViewValue } from './view.js';

/** Where the documents of one version of a view live, and the fields they are queried by. */
export interface ViewTable {
  readonly view: string;
  readonly version: number;
  readonly fields: Readonly<Record<string, ViewFieldType>>;
}

/** A view document as stored: the document and what its view has applied to it. */
export interface ViewRecord<D = unknown> {
  readonly key: string;
  readonly doc: D;
  /** 1 after the first event applied, one more after each. */
  readonly revision: number;
  /**
   * The offset of the last event applied from each partition (`<topic>/<partition>`): an event
   * at or before it was applied already.
   */
  readonly positions: Readonly<Record<string, string>>;
  /** Ids of the latest events applied (at most {@link VIEW_RECENT_MAX}), oldest first. */
  readonly recent: readonly string[];
  /** ISO-8601. */
  readonly updatedAt: string;
}

/** Event ids a view record keeps, for reads that wait for an event to be applied. */
export const VIEW_RECENT_MAX = 32;

/** A range of a query field's values. */
export interface ViewRange {
  readonly gt?: ViewValue;
  readonly gte?: ViewValue;
  readonly lt?: ViewValue;
  readonly lte?: ViewValue;
}

/** A query of a view by its declared fields. */
export interface ViewQuery {
  /** Equality (a value) or a range per field, all of them to hold. @default every document */
  readonly where?: Readonly<Record<string, ViewValue | ViewRange>>;
  /**
   * The field the documents come in the order of (documents without it are left out), ties
   * broken by key. @default the key
   */
  readonly orderBy?: string;
  /** @default 'asc' */
  readonly direction?: 'asc' | 'desc';
  /** Documents per page, 1 to {@link VIEW_QUERY_LIMIT_MAX}. @default 50 */
  readonly limit?: number;
  /** The `next` of the previous page. @default the first page */
  readonly cursor?: string;
}

/** Pages of a query hold this many documents at most. */
export const VIEW_QUERY_LIMIT_MAX = 1000;

/** One page of a query's answer. */
export interface ViewPage<D = unknown> {
  readonly items: readonly { readonly key: string; readonly doc: D }[];
  /** The cursor of the next page; null on the last one. */
  readonly next: string | null;
}

/** One condition of a checked query. */
export interface ViewCondition {
  readonly field: string;
  readonly op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte';
  readonly value: ViewValue;
}

/** A query as checked against its view's fields: what a store answers. */
export interface CheckedViewQuery {
  readonly conditions: readonly ViewCondition[];
  /** Undefined: by key. */
  readonly orderBy?: string;
  readonly direction: 'asc' | 'desc';
  readonly limit: number;
  /** Where the previous page ended: its last document's sort value (when by a field) and key. */
  readonly after?: { readonly value?: ViewValue; readonly key: string };
}

/**
 * Port: where view documents live. Writes are single-document and revisioned, so that
 * processes applying events to the same document side by side never lose one.
 */
export interface ViewStore {
  /** Prepares storage of a view version (collections, an index per query field); safe to call again. */
  prepare(table: ViewTable): Promise<void>;
  /** The latest revision of a document, if it has one. */
  get(table: ViewTable, key: string): Promise<ViewRecord | undefined>;
  /**
   * Writes a revision of a document: revision 1 creates it, each next one follows the one before.
   * False when that revision exists already (another writer came first: read it and apply again).
   */
  write(table: ViewTable, record: ViewRecord): Promise<boolean>;
  /** One page of the documents that match, in the query's order. */
  query(table: ViewTable, query: CheckedViewQuery): Promise<ViewPage>;
  /** The version readers use: the newest that has caught up, if any has. */
  activeVersion(view: string): Promise<number | undefined>;
  /** Makes a version the one readers use, unless a newer one is already. */
  activate(view: string, version: number): Promise<void>;
}

const OPS = ['gt', 'gte', 'lt', 'lte'] as const;

function checkValue(field: string, type: ViewFieldType, value: unknown): ViewValue {
  if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) {
    throw invalidArgument(field, `must be a ${type} (got ${JSON.stringify(value) ?? 'undefined'})`);
  }
  return value as ViewValue;
}

/** The cursor of the page after the one that ended at this document. */
export function viewCursor(key: string, value?: ViewValue): string {
  return Buffer.from(JSON.stringify(value === undefined ? [key] : [key, value])).toString(
    'base64url',
  );
}

/**
 * Checks a query against a view's fields, naming what is wrong: a field the view does not
 * declare, a value of another type, a bad limit or cursor.
 */
export function checkViewQuery(table: ViewTable, query: ViewQuery = {}): CheckedViewQuery {
  if (typeof query !== 'object' || query === null) {
    throw invalidArgument('query', 'must be an object');
  }
  const declared = (field: string, where: string): ViewFieldType => {
    const type = table.fields[field];
    if (type === undefined || !Object.hasOwn(table.fields, field)) {
      const known = Object.keys(table.fields);
      throw invalidArgument(
        where,
        `names '${field}', which is not a query field of the view ${table.view} (${known.length === 0 ? 'it has none' : `fields: ${known.join(', ')}`})`,
      );
    }
    return type;
  };
  const conditions: ViewCondition[] = [];
  for (const [field, condition] of Object.entries(query.where ?? {})) {
    const type = declared(field, `where.${field}`);
    if (typeof condition === 'object' && condition !== null) {
      const ops = Object.keys(condition);
      const unknown = ops.find((op) => !(OPS as readonly string[]).includes(op));
      if (unknown !== undefined || ops.length === 0) {
        throw invalidArgument(
          `where.${field}`,
          `must be a value or a range of ${OPS.join(', ')} (got '${unknown ?? 'an empty range'}')`,
        );
      }
      for (const op of OPS) {
        const value = condition[op];
        if (value === undefined) continue;
        conditions.push({ field, op, value: checkValue(`where.${field}.${op}`, type, value) });
      }
    } else {
      conditions.push({ field, op: 'eq', value: checkValue(`where.${field}`, type, condition) });
    }
  }
  const orderBy = query.orderBy;
  const orderType = orderBy === undefined ? undefined : declared(orderBy, 'orderBy');
  const direction = query.direction ?? 'asc';
  if (direction !== 'asc' && direction !== 'desc') {
    throw invalidArgument('direction', `must be 'asc' or 'desc' (got '${String(direction)}')`);
  }
  const limit = query.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > VIEW_QUERY_LIMIT_MAX) {
    throw invalidArgument(
      'limit',
      `must be an integer from 1 to ${VIEW_QUERY_LIMIT_MAX} (got ${String(limit)})`,
    );
  }
  let after: CheckedViewQuery['after'];
  if (query.cursor !== undefined) {
    const bad = () =>
      invalidArgument(
        'cursor',
        `is not the next of a previous page of this query (got '${String(query.cursor)}')`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(String(query.cursor), 'base64url').toString());
    } catch {
      throw bad();
    }
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') throw bad();
    const [key, value] = parsed as [string, unknown];
    if (orderType === undefined) {
      if (parsed.length !== 1) throw bad();
      after = { key };
    } else {
      if (parsed.length !== 2 || typeof value !== orderType) throw bad();
      after = { key, value: value as ViewValue };
    }
  }
  return {
    conditions,
    ...(orderBy === undefined ? {} : { orderBy }),
    direction,
    limit,
    ...(after === undefined ? {} : { after }),
  };
}

/**
 * The query fields of a document, as its view declares them: each of its type or null. A field of
 * another type throws naming it (the view's `apply` is wrong).
 */
export function viewFieldsOf(
  table: ViewTable,
  doc: Readonly<Record<string, unknown>>,
): Record<string, ViewValue | null> {
  const fields: Record<string, ViewValue | null> = {};
  for (const [field, type] of Object.entries(table.fields)) {
    const value = doc[field];
    fields[field] =
      value === undefined || value === null ? null : checkValue(`doc.${field}`, type, value);
  }
  return fields;
}
