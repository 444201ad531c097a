import { MemorySagaViewStore, sagaViewStoreContract } from '../src/index.js';

sagaViewStoreContract('MemorySagaViewStore', () => new MemorySagaViewStore());
