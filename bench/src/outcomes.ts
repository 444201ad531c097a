import { headerNames } from '@sagaflow/core';
import { waitFor } from '@sagaflow/testing/node';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Child } from './children.js';

/** Median hop times of a run (see {@link SagaOutcomes.hops}). */
export interface HopFigures {
  readonly relayP50Ms: number;
  readonly pickupP50Ms: number;
  readonly hopP50Ms: number;
  readonly byPairP50Ms: Readonly<Record<string, number>>;
}

/** When each order's saga ended, as seen on the topics (not by polling the services). */
export class SagaOutcomes {
  readonly #consumer: Consumer;
  readonly #ended = new Map<string, { at: number; outcome: 'completed' | 'compensated' }>();
  readonly #waiters = new Set<() => void>();
  /** Each saga's events in the order seen: when written (occurredAt) and when published. */
  readonly #timelines = new Map<
    string,
    { type: string; writtenAt: number; publishedAt: number }[]
  >();
  /** The event type that completes a saga. */
  #completedBy = 'ShipmentScheduled';

  constructor(brokers: readonly string[], groupId: string) {
    this.#consumer = new Kafka({
      brokers: [...brokers],
      clientId: groupId,
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId,
      maxWaitTimeInMs: 50,
    });
  }

  /**
   * Follows the topics of a flow: a saga ends with the first message keyed by its id whose event
   * type `endings` names (by default the reference flow's: a shipment scheduled completes it, an
   * order rejected compensates it); every event with a saga id adds to the time of each hop.
   */
  async start(
    topics: readonly string[],
    endings: Readonly<Record<string, 'completed' | 'compensated'>> = {
      ShipmentScheduled: 'completed',
      OrderRejected: 'compensated',
    },
  ): Promise<void> {
    this.#completedBy =
      Object.entries(endings).find(([, outcome]) => outcome === 'completed')?.[0] ??
      this.#completedBy;
    // Listen for the join before running: the group must own its partitions before the first
    // order is placed (the consumer starts at the end of the topics).
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the benchmark consumer did not join its group within 60 s')),
        60_000,
      );
      const off = this.#consumer.on(this.#consumer.events.GROUP_JOIN, () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({
      topics: [...topics],
      fromBeginning: false,
    });
    await this.#consumer.run({
      eachMessage: ({ message }) => {
        const type = message.headers?.[headerNames.eventType]?.toString();
        const sagaId = message.headers?.[headerNames.sagaId]?.toString();
        const writtenAt = Date.parse(message.headers?.[headerNames.occurredAt]?.toString() ?? '');
        if (type !== undefined && sagaId !== undefined && !Number.isNaN(writtenAt)) {
          const timeline = this.#timelines.get(sagaId) ?? [];
          timeline.push({ type, writtenAt, publishedAt: Number(message.timestamp) });
          this.#timelines.set(sagaId, timeline);
        }
        const id = message.key?.toString();
        const outcome = type === undefined ? undefined : endings[type];
        if (id === undefined || outcome === undefined || this.#ended.has(id)) {
          return Promise.resolve();
        }
        this.#ended.set(id, { at: Date.now(), outcome });
        for (const wake of this.#waiters) wake();
        return Promise.resolve();
      },
    });
    await joined;
  }

  ended(orderId: string) {
    return this.#ended.get(orderId);
  }

  /** Forgets the timelines seen so far (the next {@link hops} covers what follows). */
  clearHops(): void {
    this.#timelines.clear();
  }

  /**
   * Hop times of the sagas that completed (by the event type that completes them), median over them, in ms: `relay` from an
   * event's write to its publication, `pickup` from its publication to the write of the next
   * event (consumer, handler, state change), `hop` the two together; and each hop by its pair.
   */
  hops(): HopFigures {
    const lastType = this.#completedBy;
    const relay: number[] = [];
    const pickup: number[] = [];
    const byPair = new Map<string, number[]>();
    for (const timeline of this.#timelines.values()) {
      if (timeline.at(-1)?.type !== lastType) continue;
      const events = [...timeline].sort((a, b) => a.writtenAt - b.writtenAt);
      events.forEach((e, i) => {
        relay.push(e.publishedAt - e.writtenAt);
        const next = events[i + 1];
        if (next === undefined) return;
        pickup.push(next.writtenAt - e.publishedAt);
        const pair = `${e.type}→${next.type}`;
        byPair.set(pair, [...(byPair.get(pair) ?? []), next.writtenAt - e.writtenAt]);
      });
    }
    const med = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
    };
    return {
      relayP50Ms: med(relay),
      pickupP50Ms: med(pickup),
      hopP50Ms: med([...byPair.values()].flat()),
      byPairP50Ms: Object.fromEntries([...byPair].map(([pair, v]) => [pair, med(v)])),
    };
  }

  /** Resolves when every order has ended, or after `timeoutMs`. */
  async waitFor(orderIds: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (orderIds.some((id) => !this.#ended.has(id)) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        setTimeout(wake, 250);
      });
    }
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect();
  }
}

/**
 * Outcomes of systems whose call answers when the workflow has ended (Restate's and DBOS's
 * synchronous calls): the saga ended when its call answered.
 */
export class CallOutcomes {
  readonly #ended = new Map<string, { at: number; outcome: 'completed' | 'compensated' }>();
  readonly #calls = new Map<string, Promise<void>>();
  /** Calls that failed, with the first error seen. */
  failures = 0;
  firstError: string | undefined;

  /** Follows one call: `outcome` of its answer, nothing if it fails. */
  track(id: string, call: Promise<'completed' | 'compensated'>): void {
    this.#calls.set(
      id,
      call.then(
        (outcome) => {
          this.#ended.set(id, { at: Date.now(), outcome });
        },
        (error: unknown) => {
          this.failures += 1;
          this.firstError ??= String(error);
        },
      ),
    );
  }

  ended(id: string) {
    return this.#ended.get(id);
  }

  async waitFor(ids: readonly string[], timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(ids.map((id) => this.#calls.get(id) ?? Promise.resolve())),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}

/**
 * Waits until every process of a system has printed its ready line, then follows the system's
 * topics (see {@link SagaOutcomes.start}); on failure stops it all and names the log directory.
 * `stop` stops the outcome consumer and the processes (those in `children` at the time).
 */
export async function followSystem(options: {
  readonly children: readonly Child[];
  readonly ready: (child: Child) => string;
  readonly description: string;
  readonly logDir: string;
  readonly kafkaBrokers: readonly string[];
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly endings?: Readonly<Record<string, 'completed' | 'compensated'>>;
}): Promise<{ readonly outcomes: SagaOutcomes; readonly stop: () => Promise<void> }> {
  const { children } = options;
  const outcomes = new SagaOutcomes(options.kafkaBrokers, options.groupId);
  const stop = async () => {
    await outcomes.stop().catch(() => {});
    await Promise.all(children.map((c) => c.stop()));
  };
  try {
    await waitFor(
      () => Promise.resolve(children.every((c) => c.output().includes(options.ready(c)))),
      { description: options.description, timeoutMs: 90_000, intervalMs: 200 },
    );
    await outcomes.start(options.topics, options.endings);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (logs in ${options.logDir})`);
  }
  return { outcomes, stop };
}
