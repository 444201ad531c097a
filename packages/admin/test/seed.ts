import { MongoSagaViewStore } from '@sagaflow/mongodb';
import { seedSagaViews } from '@sagaflow/testing/memory';
import type { Db } from 'mongodb';

/** The admin token of the tests. */
export const TOKEN = 'test-token-123';

/** The four sagas of {@link seedSagaViews}, in the database. */
export const seedSagas = (db: Db) => seedSagaViews(new MongoSagaViewStore(db));
