/**
 * What the processes of a sagaflow system spent, read from their `/metrics`: round trips to the
 * database and to Kafka (`sagaflow_round_trips_total`, counted by the adapters themselves from
 * the mongodb driver's command monitoring and kafkajs' request events) and CPU seconds
 * (`process_cpu_seconds_total`).
 */

/** Counters of one process at one moment, or their difference over a step. */
export interface ProcessUsage {
  /** Database commands. */
  readonly db: number;
  /** Kafka requests of every kind (produce, fetch, transaction, group, metadata). */
  readonly kafka: number;
  /** Kafka transactions ended (`EndTxn` requests). */
  readonly transactions: number;
  readonly cpuSec: number;
  /** Round trips by `<system> <operation>`, e.g. `database find`, `kafka Fetch`. */
  readonly byOperation: Readonly<Record<string, number>>;
  /**
   * The tracker's lag histogram (`sagaflow_tracker_lag_seconds`): events recorded at most `le`
   * seconds after they occurred, cumulative, by `le` (`+Inf` included). Empty for a process
   * without a tracker.
   */
  readonly trackerLag: Readonly<Record<string, number>>;
}

/** Round trips per saga, all processes of a system together. */
export interface RoundTripsPerSaga {
  readonly db: number;
  readonly kafka: number;
  readonly transactions: number;
}

/** What a step cost per saga: round trips of all processes, CPU seconds of each. */
export interface UsagePerSaga {
  readonly roundTripsPerSaga: RoundTripsPerSaga;
  /** CPU milliseconds per saga of each process. */
  readonly cpuMsPerSaga: Readonly<Record<string, number>>;
  /** Database commands and Kafka requests per saga of each process (which one spends them). */
  readonly roundTripsByProcess: Readonly<Record<string, RoundTripsPerSaga>>;
  /** Round trips per saga by `<system> <operation>`, all processes together, most first. */
  readonly roundTripsByOperation: Readonly<Record<string, number>>;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/;

/** Reads the counters from a Prometheus text exposition. */
export function usageOf(exposition: string): ProcessUsage {
  let db = 0;
  let kafka = 0;
  let transactions = 0;
  let cpuSec = 0;
  const byOperation: Record<string, number> = {};
  const trackerLag: Record<string, number> = {};
  for (const line of exposition.split('\n')) {
    const match = SAMPLE.exec(line);
    if (match === null) continue;
    const [, name, labels = '', raw] = match;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    if (name === 'sagaflow_round_trips_total') {
      const system = /system="([^"]*)"/.exec(labels)?.[1] ?? '';
      const operation = /operation="([^"]*)"/.exec(labels)?.[1] ?? '';
      const key = `${system} ${operation}`;
      byOperation[key] = (byOperation[key] ?? 0) + value;
      if (labels.includes('system="database"')) db += value;
      else if (labels.includes('system="kafka"')) {
        kafka += value;
        if (labels.includes('operation="EndTxn"')) transactions += value;
      }
    } else if (name !== undefined && name.endsWith('process_cpu_seconds_total')) {
      cpuSec = value;
    } else if (name === 'sagaflow_tracker_lag_seconds_bucket') {
      const le = /le="([^"]*)"/.exec(labels)?.[1];
      if (le !== undefined) trackerLag[le] = (trackerLag[le] ?? 0) + value;
    }
  }
  return { db, kafka, transactions, cpuSec, byOperation, trackerLag };
}

/**
 * Reads each process's counters (a process that does not answer is left out), with the bearer
 * token where `/metrics` asks for one (the admin's).
 */
export async function scrapeUsage(
  urls: Readonly<Record<string, string>>,
  token?: string,
): Promise<Record<string, ProcessUsage>> {
  const entries = await Promise.all(
    Object.entries(urls).map(async ([name, url]) => {
      try {
        const response = await fetch(`${url}/metrics`, {
          signal: AbortSignal.timeout(5000),
          ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
        });
        if (!response.ok) return undefined;
        return [name, usageOf(await response.text())] as const;
      } catch {
        return undefined;
      }
    }),
  );
  return Object.fromEntries(entries.filter((e) => e !== undefined));
}

const round = (n: number) => Number(n.toFixed(1));

/** The difference between two readings, per saga ended in between. */
export function perSaga(
  before: Readonly<Record<string, ProcessUsage>>,
  after: Readonly<Record<string, ProcessUsage>>,
  sagas: number,
): UsagePerSaga | undefined {
  if (sagas <= 0) return undefined;
  let db = 0;
  let kafka = 0;
  let transactions = 0;
  const cpuMsPerSaga: Record<string, number> = {};
  const roundTripsByProcess: Record<string, RoundTripsPerSaga> = {};
  const operations: Record<string, number> = {};
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    // A process restarted in between starts its counters afresh: leave it out.
    if (start === undefined || end.cpuSec < start.cpuSec) continue;
    db += end.db - start.db;
    kafka += end.kafka - start.kafka;
    transactions += end.transactions - start.transactions;
    cpuMsPerSaga[name] = round(((end.cpuSec - start.cpuSec) * 1000) / sagas);
    roundTripsByProcess[name] = {
      db: round((end.db - start.db) / sagas),
      kafka: round((end.kafka - start.kafka) / sagas),
      transactions: round((end.transactions - start.transactions) / sagas),
    };
    for (const [key, count] of Object.entries(end.byOperation)) {
      operations[key] = (operations[key] ?? 0) + count - (start.byOperation[key] ?? 0);
    }
  }
  return {
    roundTripsPerSaga: {
      db: round(db / sagas),
      kafka: round(kafka / sagas),
      transactions: round(transactions / sagas),
    },
    cpuMsPerSaga,
    roundTripsByProcess,
    roundTripsByOperation: Object.fromEntries(
      Object.entries(operations)
        .filter(([, count]) => count > 0)
        .sort(([, a], [, b]) => b - a)
        .map(([key, count]) => [key, round(count / sagas)]),
    ),
  };
}

/**
 * A quantile of the tracker's lag between two readings, in milliseconds: the upper bound of the
 * histogram bucket it falls in (the largest finite bound when it is beyond them all), or
 * undefined when no event was tracked in between.
 */
export function trackerLagMs(
  before: Readonly<Record<string, ProcessUsage>>,
  after: Readonly<Record<string, ProcessUsage>>,
  quantile: number,
): number | undefined {
  const counts = new Map<number, number>();
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (start === undefined || end.cpuSec < start.cpuSec) continue;
    for (const [le, count] of Object.entries(end.trackerLag)) {
      const bound = le === '+Inf' ? Infinity : Number(le);
      counts.set(bound, (counts.get(bound) ?? 0) + count - (start.trackerLag[le] ?? 0));
    }
  }
  const total = counts.get(Infinity) ?? 0;
  if (total <= 0) return undefined;
  const bounds = [...counts.keys()].sort((a, b) => a - b);
  const at = bounds.find((bound) => (counts.get(bound) ?? 0) >= quantile * total) ?? Infinity;
  const finite = bounds.filter(Number.isFinite);
  return Math.round((Number.isFinite(at) ? at : (finite.at(-1) ?? 0)) * 1000);
}
