import type {
  CommandOutcome,
  MessageOutcome,
  RoundTripSystem,
  SagaflowMetrics,
  SagaCount,
  SagaMetrics,
  SagaViewStore,
  ServiceStats,
} from '@sagaflow/core';
import { invalidArgument } from '@sagaflow/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SAGA_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Tracker lag: fine below a few seconds, where the admin should stay. */
const TRACKER_LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300];

/**
 * The framework's figures as Prometheus metrics in a prom-client registry: give it to a
 * `SagaflowService` (or `Orchestrator`) as `metrics`, and to a `SagaTracker` as `metrics`.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `sagaflow_commands_total`, `sagaflow_command_duration_seconds` | counter, histogram | entity_type, command, outcome |
 * | `sagaflow_events_consumed_total`, `sagaflow_handler_duration_seconds` | counter, histogram | group, topic, type, outcome |
 * | `sagaflow_handler_retries_total` | counter | group, type |
 * | `sagaflow_events_dead_lettered_total` | counter | group, type, code |
 * | `sagaflow_events_published_total` | counter | type |
 * | `sagaflow_loop_restarts_total` | counter | loop (relay, compaction, timers) |
 * | `sagaflow_consumer_restarts_total` | counter | group |
 * | `sagaflow_saga_duration_seconds` | histogram | type, status |
 * | `sagaflow_tracker_lag_seconds` | histogram | (none): from an event's occurrence to its saga's view written |
 * | `sagaflow_round_trips_total` | counter | system (database, kafka), operation |
 */
export class PrometheusMetrics implements SagaflowMetrics, SagaMetrics {
  readonly #commands: Counter<'entity_type' | 'command' | 'outcome'>;
  readonly #commandSeconds: Histogram<'entity_type' | 'command' | 'outcome'>;
  readonly #consumed: Counter<'group' | 'topic' | 'type' | 'outcome'>;
  readonly #handlerSeconds: Histogram<'group' | 'topic' | 'type' | 'outcome'>;
  readonly #retries: Counter<'group' | 'type'>;
  readonly #waiting: Gauge<'group' | 'code'>;
  readonly #deadLettered: Counter<'group' | 'type' | 'code'>;
  readonly #published: Counter<'type'>;
  readonly #loopRestarts: Counter<'loop'>;
  readonly #consumerRestarts: Counter<'group'>;
  readonly #sagaSeconds: Histogram<'type' | 'status'>;
  readonly #trackerLag: Histogram;
  readonly #roundTrips: Counter<'system' | 'operation'>;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.#commands = new Counter({
      name: 'sagaflow_commands_total',
      help: 'Commands handled by entities, by outcome.',
      labelNames: ['entity_type', 'command', 'outcome'],
      registers,
    });
    this.#commandSeconds = new Histogram({
      name: 'sagaflow_command_duration_seconds',
      help: 'Time to handle a command: load, decide, append.',
      labelNames: ['entity_type', 'command', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#consumed = new Counter({
      name: 'sagaflow_events_consumed_total',
      help: 'Messages (events and commands) consumed, by consumer group, type and outcome.',
      labelNames: ['group', 'topic', 'type', 'outcome'],
      registers,
    });
    this.#handlerSeconds = new Histogram({
      name: 'sagaflow_handler_duration_seconds',
      help: 'Time to handle a consumed message, retries included.',
      labelNames: ['group', 'topic', 'type', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#retries = new Counter({
      name: 'sagaflow_handler_retries_total',
      help: 'Handler attempts that failed and were retried.',
      labelNames: ['group', 'type'],
      registers,
    });
    this.#waiting = new Gauge({
      name: 'sagaflow_messages_waiting',
      help: 'Messages waiting, however long, for what they need (code: STORE_UNAVAILABLE, PUBLISH_FAILED, SERDE_FAILED for the schema registry, UNKNOWN_WORKFLOW for a workflow version not deployed yet), by group.',
      labelNames: ['group', 'code'],
      registers,
    });
    this.#deadLettered = new Counter({
      name: 'sagaflow_events_dead_lettered_total',
      help: 'Messages sent to a dead-letter topic, by group, type and error code.',
      labelNames: ['group', 'type', 'code'],
      registers,
    });
    this.#published = new Counter({
      name: 'sagaflow_events_published_total',
      help: 'Events and outbox commands published by the relay, by type.',
      labelNames: ['type'],
      registers,
    });
    this.#loopRestarts = new Counter({
      name: 'sagaflow_loop_restarts_total',
      help: 'Rounds of a background loop (relay, compaction, timers) that failed and were started again.',
      labelNames: ['loop'],
      registers,
    });
    this.#consumerRestarts = new Counter({
      name: 'sagaflow_consumer_restarts_total',
      help: 'Consumers that crashed and were restarted, by group.',
      labelNames: ['group'],
      registers,
    });
    this.#sagaSeconds = new Histogram({
      name: 'sagaflow_saga_duration_seconds',
      help: 'Time from the first to the ending event of a saga, by type and ending status.',
      labelNames: ['type', 'status'],
      buckets: SAGA_BUCKETS,
      registers,
    });
    this.#trackerLag = new Histogram({
      name: 'sagaflow_tracker_lag_seconds',
      help: "Time from an event's occurrence to the tracker's recording it in its saga's view.",
      buckets: TRACKER_LAG_BUCKETS,
      registers,
    });
    this.#roundTrips = new Counter({
      name: 'sagaflow_round_trips_total',
      help: 'Requests sent to the database (commands) and to Kafka (requests), by operation.',
      labelNames: ['system', 'operation'],
      registers,
    });
  }

  commandHandled(
    labels: { entityType: string; command: string; outcome: CommandOutcome },
    seconds: number,
  ): void {
    const l = { entity_type: labels.entityType, command: labels.command, outcome: labels.outcome };
    this.#commands.inc(l);
    this.#commandSeconds.observe(l, seconds);
  }

  messageHandled(
    labels: { group: string; topic: string; type: string; outcome: MessageOutcome },
    seconds: number,
  ): void {
    this.#consumed.inc(labels);
    this.#handlerSeconds.observe(labels, seconds);
  }

  messageRetried(labels: { group: string; type: string }): void {
    this.#retries.inc(labels);
  }

  messageWaiting(labels: { group: string; code: string }, change: 1 | -1): void {
    this.#waiting.inc(labels, change);
  }

  deadLettered(labels: { group: string; type: string; code: string }): void {
    this.#deadLettered.inc(labels);
  }

  published(types: readonly string[]): void {
    const counts = new Map<string, number>();
    for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
    for (const [type, count] of counts) this.#published.inc({ type }, count);
  }

  loopRestarted(loop: string): void {
    this.#loopRestarts.inc({ loop });
  }

  consumerRestarted(labels: { group: string }): void {
    this.#consumerRestarts.inc(labels);
  }

  roundTrip(labels: { system: RoundTripSystem; operation: string }): void {
    this.#roundTrips.inc(labels);
  }

  sagaEnded(labels: { type: string; status: string }, seconds: number): void {
    this.#sagaSeconds.observe(labels, seconds);
  }

  eventTracked(seconds: number): void {
    this.#trackerLag.observe(seconds);
  }
}

/** One gauge filled at scrape time from what `read` found (left as it was when nothing). */
interface ScrapedGauge<T, L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly fill: (found: T, set: (labels: Record<L, string>, value: number) => void) => void;
}

/**
 * Registers gauges that share one read per scrape (prom-client collects them one after the
 * other): a failed read counts `sagaflow_scrape_errors_total{source}` and leaves them as they were.
 */
/** Options of the gauges read at scrape time ({@link watchService}, {@link watchSagas}). */
export interface ScrapeOptions {
  /**
   * How long one reading answers every scrape: a burst of requests to an open `/metrics`, or
   * several scrapers, cost one reading per this while. @default 5000
   */
  readonly maxAgeMs?: number;
}

function scraped<T>(
  registry: Registry,
  source: string,
  read: () => Promise<T>,
  gauges: readonly ScrapedGauge<T, string>[],
  options: ScrapeOptions = {},
): void {
  const maxAgeMs = options.maxAgeMs ?? 5_000;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
    throw invalidArgument('maxAgeMs', `must be a number ≥ 0 (got ${maxAgeMs})`);
  }
  const errors = scrapeErrors(registry);
  let latest: Promise<T | undefined> | undefined;
  // The gauges of one scrape share a reading, and so do the scrapes of the next maxAgeMs.
  const once = () =>
    (latest ??= read()
      .catch(() => {
        errors.inc({ source });
        return undefined;
      })
      .finally(() => {
        setTimeout(() => (latest = undefined), maxAgeMs).unref();
      }));
  for (const gauge of gauges) {
    new Gauge({
      name: gauge.name,
      help: gauge.help,
      labelNames: gauge.labelNames,
      registers: [registry],
      async collect() {
        const found = await once();
        if (found === undefined) return;
        this.reset();
        gauge.fill(found, (labels, value) => this.set(labels, value));
      },
    });
  }
}

/**
 * Gauges read at each scrape from a service: `sagaflow_outbox_pending` and
 * `sagaflow_outbox_oldest_pending_age_seconds` per entity type, `sagaflow_consumer_lag` per
 * group, topic and partition. A failed read leaves the gauges as they were and counts
 * `sagaflow_scrape_errors_total{source="service"}` (the scrape itself still answers; the count
 * shows from the next scrape).
 */
export function watchService(
  registry: Registry,
  stats: () => Promise<ServiceStats>,
  options: ScrapeOptions = {},
): void {
  scraped<ServiceStats>(
    registry,
    'service',
    stats,
    [
      {
        name: 'sagaflow_outbox_pending',
        help: 'Commits waiting for the relay, by entity type.',
        labelNames: ['entity_type'],
        fill: (found, set) => {
          for (const o of found.outbox) set({ entity_type: o.entityType }, o.pending);
        },
      },
      {
        name: 'sagaflow_outbox_oldest_pending_age_seconds',
        help: 'How long the oldest unpublished commit has waited, by entity type (0 when none).',
        labelNames: ['entity_type'],
        fill: (found, set) => {
          for (const o of found.outbox) set({ entity_type: o.entityType }, o.oldestAgeSeconds);
        },
      },
      {
        name: 'sagaflow_consumer_lag',
        help: 'Messages not yet consumed (end offset minus committed offset), by group, topic and partition.',
        labelNames: ['group', 'topic', 'partition'],
        fill: (found, set) => {
          for (const l of found.lag) {
            set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
          }
        },
      },
    ],
    options,
  );
}

/**
 * Gauges read at each scrape from the saga views: `sagaflow_sagas` by saga type and status, and
 * `sagaflow_sagas_stuck` by saga type (label `type`); a failed read counts
 * `sagaflow_scrape_errors_total{source="sagas"}`.
 */
export function watchSagas(
  registry: Registry,
  views: Pick<SagaViewStore, 'counts'>,
  options: ScrapeOptions = {},
): void {
  scraped<readonly SagaCount[]>(
    registry,
    'sagas',
    () => views.counts(),
    [
      {
        name: 'sagaflow_sagas',
        help: 'Sagas known to the tracker, by type and status.',
        labelNames: ['type', 'status'],
        fill: (counts, set) => {
          for (const c of counts) set({ type: c.type, status: c.status }, c.count);
        },
      },
      {
        name: 'sagaflow_sagas_stuck',
        help: 'Sagas past the deadline of their current step, by type.',
        labelNames: ['type'],
        fill: (counts, set) => {
          for (const c of counts) if (c.status === 'stuck') set({ type: c.type }, c.count);
        },
      },
    ],
    options,
  );
}

function scrapeErrors(registry: Registry): Counter<'source'> {
  const existing = registry.getSingleMetric('sagaflow_scrape_errors_total');
  return (
    (existing as Counter<'source'> | undefined) ??
    new Counter({
      name: 'sagaflow_scrape_errors_total',
      help: 'Reads behind the gauges that failed during a scrape (database or broker away).',
      labelNames: ['source'],
      registers: [registry],
    })
  );
}
