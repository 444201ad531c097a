import { MemoryTimerStore, timerStoreContract } from '../src/index.js';

timerStoreContract('MemoryTimerStore', () => new MemoryTimerStore());
