import { MongoSagaViewStore } from '@sagaflow/mongodb';
import { MemoryBus, seedSagaViews } from '@sagaflow/testing/memory';
import type { Db } from 'mongodb';

/** The admin token of the tests. */
export const TOKEN = 'test-token-123';

/** The four sagas of {@link seedSagaViews}, in the database. */
export const seedSagas = (db: Db) => seedSagaViews(new MongoSagaViewStore(db));

/**
 * A bus whose topic `shop.order.events` holds three events (over two partitions) that no group
 * has read, and whose `shop.empty.events` holds none.
 */
export async function busWithBacklog(): Promise<MemoryBus> {
  const bus = new MemoryBus();
  await bus.ensureTopics([
    { topic: 'shop.order.events', partitions: 2 },
    { topic: 'shop.empty.events' },
  ]);
  await bus.publish(
    ['o-1', 'o-2', 'o-3'].map((key) => ({
      topic: 'shop.order.events',
      key,
      value: Buffer.from('{}'),
      headers: {},
    })),
  );
  return bus;
}
