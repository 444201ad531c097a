import { testEnv, timerStoreContract, uniqueName } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoTimerStore } from '../src/index.js';
import { contractDatabases } from './contract-databases.js';

const freshDatabase = contractDatabases('timers');
timerStoreContract('MongoTimerStore', () => new MongoTimerStore(freshDatabase()));

describe('MongoTimerStore under load', () => {
  it('writes timers scheduled, or deleted, while a write is in flight together', async () => {
    const name = uniqueName('timer-batches');
    const client = await new MongoClient(testEnv().mongodbUrl, { monitorCommands: true }).connect();
    const commands: string[] = [];
    client.on('commandStarted', (event) => commands.push(event.commandName));
    try {
      const store = new MongoTimerStore(client.db(name));
      await store.prepare();
      const timers = Array.from({ length: 40 }, (_, i) => ({
        id: `t-${i}`,
        owner: 'o',
        workflowId: `w-${i}`,
        dueAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      }));
      commands.length = 0;
      await Promise.all(timers.map((t) => store.schedule(t)));
      // The first alone, the rest in the write after it.
      expect(commands.filter((c) => c === 'insert')).toHaveLength(2);
      commands.length = 0;
      await Promise.all(timers.map((t) => store.delete([t.id])));
      expect(commands.filter((c) => c === 'delete')).toHaveLength(2);
      expect(await store.next('o')).toBeUndefined();
    } finally {
      await client.db(name).dropDatabase();
      await client.close();
    }
  });
});
