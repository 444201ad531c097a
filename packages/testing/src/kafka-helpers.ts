import type { Consumer, ConsumerGroupJoinEvent } from 'kafkajs';

/**
 * Resolves with the group-join payload the next time the consumer joins its group (call it
 * before `consumer.run`); rejects after the timeout.
 */
export function waitForConsumerToJoinGroup(
  consumer: Consumer,
  options: { timeoutMs?: number } = {},
): Promise<ConsumerGroupJoinEvent['payload']> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      remove();
      reject(
        new Error(`timed out after ${timeoutMs} ms waiting for the consumer to join its group`),
      );
    }, timeoutMs);
    const remove = consumer.on(consumer.events.GROUP_JOIN, (event) => {
      clearTimeout(timer);
      remove();
      resolve(event.payload);
    });
  });
}
