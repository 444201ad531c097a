/** What a redacted field shows instead of its value. */
export const REDACTED = '[REDACTED]';

type Schema = unknown;

/**
 * A copy of `payload` in which every field that its Avro schema marks `"sensitive": true` is
 * replaced by `[REDACTED]`, through nested records, arrays, maps and unions (named types defined
 * earlier in the schema are followed). The payload itself is not changed.
 */
export function redactPayload(
  definition: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const named = new Map<string, Schema>();
  collectNames(definition, named);
  return redact(definition, payload, named) as Record<string, unknown>;
}

/** Whether any field of the schema (at any depth) is marked sensitive. */
export function hasSensitiveFields(definition: Readonly<Record<string, unknown>>): boolean {
  return JSON.stringify(definition).includes('"sensitive":true');
}

/** Named types by short and full name; an inline type inherits the enclosing namespace. */
function collectNames(schema: Schema, named: Map<string, Schema>, namespace = ''): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) collectNames(branch, named, namespace);
    return;
  }
  if (typeof schema !== 'object' || schema === null) return;
  const s = schema as Record<string, unknown>;
  let inner = namespace;
  if (typeof s['name'] === 'string' && ['record', 'enum', 'fixed'].includes(s['type'] as string)) {
    const name = s['name'];
    const space = name.includes('.')
      ? name.slice(0, name.lastIndexOf('.'))
      : typeof s['namespace'] === 'string'
        ? s['namespace']
        : namespace;
    const short = name.slice(name.lastIndexOf('.') + 1);
    named.set(short, s);
    named.set(space === '' ? short : `${space}.${short}`, s);
    inner = space;
  }
  if (Array.isArray(s['fields'])) {
    for (const f of s['fields'] as { type: Schema }[]) collectNames(f.type, named, inner);
  }
  if (s['items'] !== undefined) collectNames(s['items'], named, inner);
  if (s['values'] !== undefined) collectNames(s['values'], named, inner);
  if (typeof s['type'] === 'object') collectNames(s['type'], named, inner);
}

function redact(schema: Schema, value: unknown, named: Map<string, Schema>): unknown {
  if (value === null || value === undefined) return value;
  if (typeof schema === 'string') {
    const found = named.get(schema);
    return found === undefined ? value : redact(found, value, named);
  }
  if (Array.isArray(schema)) {
    // A union: the payload does not say which branch; redact through every record branch.
    return schema.reduce((v: unknown, branch) => redact(branch, v, named), value);
  }
  if (typeof schema !== 'object' || schema === null) return value;
  const s = schema as Record<string, unknown>;
  switch (s['type']) {
    case 'record': {
      if (typeof value !== 'object' || Array.isArray(value)) return value;
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const field of (s['fields'] as { name: string; type: Schema; sensitive?: unknown }[]) ??
        []) {
        if (!Object.hasOwn(copy, field.name)) continue;
        copy[field.name] =
          field.sensitive === true ? REDACTED : redact(field.type, copy[field.name], named);
      }
      return copy;
    }
    case 'array':
      return Array.isArray(value) ? value.map((item) => redact(s['items'], item, named)) : value;
    case 'map':
      return typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(
            Object.entries(value as Record<string, unknown>).map(([k, v]) => [
              k,
              redact(s['values'], v, named),
            ]),
          )
        : value;
    default:
      return typeof s['type'] === 'object' ? redact(s['type'], value, named) : value;
  }
}
