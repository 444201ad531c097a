import { MemoryBus, MemoryBusClient, messageBusContract } from '../src/index.js';

messageBusContract('MemoryBus', () => new MemoryBus(), {
  timeoutMs: 5000,
  peerOf: (bus) => new MemoryBusClient(bus as MemoryBus),
});
