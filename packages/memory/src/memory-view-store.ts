import {
  viewCursor,
  viewFieldsOf,
  type CheckedViewQuery,
  type ViewCondition,
  type ViewPage,
  type ViewRecord,
  type ViewStore,
  type ViewTable,
  type ViewValue,
} from '@sagaflow/core';

const compare = (a: ViewValue | string, b: ViewValue | string): number =>
  a < b ? -1 : a > b ? 1 : 0;

function holds(value: ViewValue | null, { op, value: wanted }: ViewCondition): boolean {
  if (value === null || typeof value !== typeof wanted) return false;
  const order = compare(value, wanted);
  switch (op) {
    case 'eq':
      return order === 0;
    case 'gt':
      return order > 0;
    case 'gte':
      return order >= 0;
    case 'lt':
      return order < 0;
    case 'lte':
      return order <= 0;
  }
}

/** {@link ViewStore} in memory, for unit tests and the embedded demo. */
export class MemoryViewStore implements ViewStore {
  /** Documents by table (`<view>@<version>`), then by key. */
  readonly #tables = new Map<string, Map<string, ViewRecord>>();
  readonly #active = new Map<string, number>();

  #table(table: ViewTable): Map<string, ViewRecord> {
    const id = `${table.view}@${table.version}`;
    let documents = this.#tables.get(id);
    if (documents === undefined) this.#tables.set(id, (documents = new Map<string, ViewRecord>()));
    return documents;
  }

  prepare(table: ViewTable): Promise<void> {
    this.#table(table);
    return Promise.resolve();
  }

  get(table: ViewTable, key: string): Promise<ViewRecord | undefined> {
    const record = this.#table(table).get(key);
    return Promise.resolve(record === undefined ? undefined : structuredClone(record));
  }

  write(table: ViewTable, record: ViewRecord): Promise<boolean> {
    const documents = this.#table(table);
    const stored = documents.get(record.key);
    if ((stored?.revision ?? 0) !== record.revision - 1) return Promise.resolve(false);
    documents.set(record.key, structuredClone(record));
    return Promise.resolve(true);
  }

  query(table: ViewTable, query: CheckedViewQuery): Promise<ViewPage> {
    const { conditions, orderBy, direction, limit, after } = query;
    const sign = direction === 'asc' ? 1 : -1;
    const rows = [...this.#table(table).values()]
      .map((record) => ({
        record,
        fields: viewFieldsOf(table, record.doc as Record<string, unknown>),
      }))
      .filter(({ fields }) => conditions.every((c) => holds(fields[c.field] ?? null, c)))
      .filter(({ fields }) => orderBy === undefined || fields[orderBy] !== null)
      .map(({ record, fields }) => ({
        record,
        sortValue: orderBy === undefined ? undefined : (fields[orderBy] as ViewValue),
      }))
      .sort(
        (a, b) =>
          sign *
          (a.sortValue === undefined || b.sortValue === undefined
            ? compare(a.record.key, b.record.key)
            : compare(a.sortValue, b.sortValue) || compare(a.record.key, b.record.key)),
      )
      .filter(({ record, sortValue }) => {
        if (after === undefined) return true;
        const order =
          after.value === undefined || sortValue === undefined
            ? compare(record.key, after.key)
            : compare(sortValue, after.value) || compare(record.key, after.key);
        return sign * order > 0;
      });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return Promise.resolve({
      items: page.map(({ record }) => ({ key: record.key, doc: structuredClone(record.doc) })),
      next:
        rows.length > limit && last !== undefined
          ? viewCursor(last.record.key, last.sortValue)
          : null,
    });
  }

  activeVersion(view: string): Promise<number | undefined> {
    return Promise.resolve(this.#active.get(view));
  }

  activate(view: string, version: number): Promise<void> {
    this.#active.set(view, Math.max(version, this.#active.get(view) ?? 0));
    return Promise.resolve();
  }
}
