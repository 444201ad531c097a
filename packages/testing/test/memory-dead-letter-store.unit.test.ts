import { deadLetterStoreContract, MemoryDeadLetterStore } from '../src/index.js';

deadLetterStoreContract('MemoryDeadLetterStore', () => new MemoryDeadLetterStore());
