import { SagaflowError } from '@sagaflow/core';
import type { CatalogEntry } from './schema-catalog.js';

/** What the registry says of a schema against the latest version of its subject. */
export type Compatibility = 'compatible' | 'new' | 'incompatible';

/**
 * Asks a Confluent-compatible registry whether the schema may be registered under its subject:
 * `new` when the subject has no version yet. A registry that does not answer, or answers with an
 * error, gives SERDE_FAILED naming the subject (retriable when it did not answer).
 */
export async function checkCompatibility(
  registryUrl: string,
  entry: CatalogEntry,
): Promise<Compatibility> {
  const url = `${registryUrl.replace(/\/+$/, '')}/compatibility/subjects/${encodeURIComponent(entry.fullName)}/versions/latest`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: entry.schema }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new SagaflowError(
      'SERDE_FAILED',
      `checking ${entry.fullName}: the registry at ${registryUrl} does not answer (${(error as Error).message})`,
      { retriable: true, cause: error },
    );
  }
  if (response.status === 404) return 'new';
  if (!response.ok) {
    throw new SagaflowError(
      'SERDE_FAILED',
      `checking ${entry.fullName}: the registry answered ${response.status}`,
      { retriable: response.status >= 500 },
    );
  }
  const body = (await response.json()) as { is_compatible?: boolean };
  return body.is_compatible === true ? 'compatible' : 'incompatible';
}
