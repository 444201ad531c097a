import { MemoryBus, messageBusContract } from '../src/index.js';

messageBusContract('MemoryBus', () => new MemoryBus(), { timeoutMs: 5000 });
