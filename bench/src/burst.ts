/**
 * A burst: many orders placed at once on an idle system, and how long the admin's saga tracker
 * takes to catch up after the burst's last saga ended. "Caught up" is read from Kafka: the
 * tracker's consumer group has committed every offset the tracked topics had when the last saga
 * ended (it commits each second, so the figure may be up to a second late, never early).
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { LoadTarget, BenchOrder } from './load.js';

/** What a burst measured. */
export interface BurstResult {
  readonly orders: number;
  /** Orders whose saga ended within the wait. */
  readonly ended: number;
  /** From the first order placed to the last saga ended, milliseconds. */
  readonly drainMs: number;
  /**
   * From the last saga ended to the tracker having committed past every tracked event then on
   * its topics, milliseconds; undefined when it had not within the wait (60 s).
   */
  readonly trackerCaughtUpMs: number | undefined;
}

/** The end offset of each partition of the topics a consumer group has committed on. */
async function groupOffsets(admin: Admin, groupId: string) {
  const committed = await admin.fetchOffsets({ groupId });
  const positions = new Map<string, { committed: bigint; end: bigint }>();
  for (const { topic, partitions } of committed) {
    const ends = await admin.fetchTopicOffsets(topic);
    for (const { partition, high } of ends) {
      const offset = partitions.find((p) => p.partition === partition)?.offset ?? '-1';
      positions.set(`${topic}/${partition}`, {
        committed: BigInt(offset) < 0n ? 0n : BigInt(offset),
        end: BigInt(high),
      });
    }
  }
  return positions;
}

/**
 * Waits up to `timeoutMs` (checking every 200 ms) for the group to commit past every offset its
 * topics had when called; the milliseconds waited, or undefined when it had not.
 */
async function caughtUp(
  admin: Admin,
  groupId: string,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  const goal = await groupOffsets(admin, groupId);
  while (Date.now() < started + timeoutMs) {
    const now = await groupOffsets(admin, groupId);
    const behind = [...goal].some(([key, { end }]) => (now.get(key)?.committed ?? 0n) < end);
    if (!behind) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return undefined;
}

const benchAdmin = (brokers: readonly string[]) =>
  new Kafka({ brokers: [...brokers], clientId: 'bench-burst', logLevel: logLevel.NOTHING }).admin();

/**
 * Waits up to `timeoutMs` for the tracker's group to have handled everything on its topics now:
 * a step that measures the tracker must not start behind an earlier step's backlog. The
 * milliseconds waited, or undefined when it had not caught up.
 */
export async function awaitTracker(options: {
  readonly brokers: readonly string[];
  readonly trackerGroupId: string;
  readonly timeoutMs: number;
}): Promise<number | undefined> {
  const admin = benchAdmin(options.brokers);
  await admin.connect();
  try {
    return await caughtUp(admin, options.trackerGroupId, options.timeoutMs);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Places `count` orders at once, waits up to `timeoutMs` for their sagas to end, then up to
 * `catchUpMs` for the tracker's group `trackerGroupId` to catch up (checked every 200 ms).
 */
export async function measureBurst(options: {
  readonly target: LoadTarget;
  readonly brokers: readonly string[];
  readonly trackerGroupId: string;
  readonly count: number;
  readonly order: (n: number) => BenchOrder;
  readonly timeoutMs: number;
  readonly catchUpMs: number;
}): Promise<BurstResult> {
  const { target, count, timeoutMs } = options;
  const admin = benchAdmin(options.brokers);
  await admin.connect();
  try {
    const startedAt = Date.now();
    const placed = await Promise.all(
      Array.from({ length: count }, (_, i) => target.place(options.order(i))),
    );
    await target.outcomes.waitFor(placed, timeoutMs);
    const endings = placed
      .map((id) => target.outcomes.ended(id)?.at)
      .filter((at): at is number => at !== undefined);
    const lastEnded = Math.max(startedAt, ...endings);
    // Everything the burst put on the tracked topics is there by now.
    const waited = await caughtUp(admin, options.trackerGroupId, options.catchUpMs);
    const trackerCaughtUpMs =
      waited === undefined ? undefined : Math.max(0, Date.now() - lastEnded);
    return {
      orders: count,
      ended: endings.length,
      drainMs: lastEnded - startedAt,
      trackerCaughtUpMs,
    };
  } finally {
    await admin.disconnect();
  }
}
