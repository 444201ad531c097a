import { entityStoreContract, MemoryEntityStore } from '../src/index.js';

entityStoreContract('MemoryEntityStore', () => new MemoryEntityStore());
