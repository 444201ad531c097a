import { eventSerdeContract, MemorySerde } from '../src/index.js';

eventSerdeContract('MemorySerde', (catalog) => new MemorySerde(catalog));
