import { MemoryViewStore, viewStoreContract } from '../src/index.js';

viewStoreContract('MemoryViewStore', () => new MemoryViewStore());
