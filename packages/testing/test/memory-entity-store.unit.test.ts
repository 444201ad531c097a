import { entityStoreContract, MemoryEntityStore } from '../src/index.js';

// #region memory-contract
entityStoreContract('MemoryEntityStore', () => new MemoryEntityStore());
// #endregion
