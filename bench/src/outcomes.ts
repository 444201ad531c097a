import { headerNames } from '@sagaflow/core';
import { Kafka, logLevel, type Consumer } from 'kafkajs';

/** When each order's saga ended, as seen on the topics (not by polling the services). */
export class SagaOutcomes {
  readonly #consumer: Consumer;
  readonly #ended = new Map<string, { at: number; outcome: 'completed' | 'compensated' }>();
  readonly #waiters = new Set<() => void>();

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

  /** Follows the shipment topic (a completed saga) and the order topic (a rejected order). */
  async start(topics: { shipments: string; orders: string }): Promise<void> {
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
      topics: [topics.shipments, topics.orders],
      fromBeginning: false,
    });
    await this.#consumer.run({
      eachMessage: ({ message }) => {
        const type = message.headers?.[headerNames.eventType]?.toString();
        const orderId = message.key?.toString();
        if (orderId === undefined || this.#ended.has(orderId)) return Promise.resolve();
        if (type === 'ShipmentScheduled')
          this.#ended.set(orderId, { at: Date.now(), outcome: 'completed' });
        else if (type === 'OrderRejected')
          this.#ended.set(orderId, { at: Date.now(), outcome: 'compensated' });
        else return Promise.resolve();
        for (const wake of this.#waiters) wake();
        return Promise.resolve();
      },
    });
    await joined;
  }

  ended(orderId: string) {
    return this.#ended.get(orderId);
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
