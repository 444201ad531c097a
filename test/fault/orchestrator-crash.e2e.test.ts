import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  COMMAND_ACCEPTED,
  WorkflowControl,
  workflowIdOf,
  type OrchestratorFaultPoint,
  type WorkflowState,
} from '@sagaflow/core';
import { MongoEntityStore } from '@sagaflow/mongodb';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startChildService, type ChildService } from '../fixtures/child-service.js';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { purchaseFlow, purchaseSchemaDirs, type StockState } from '../fixtures/purchase-flow.js';
import { realService, serviceBus } from '../fixtures/real-service.js';

const WORKFLOWS = 100;
const SKUS = 10;
const script = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/orchestrator-process.ts',
);

/** Each kill point, and at which passages of it the orchestrator is killed in successive runs. */
const KILLS: readonly (readonly [OrchestratorFaultPoint, readonly number[]])[] = [
  ['after-start', [19, 61]],
  ['timer-written', [45, 167]],
  ['after-read', [15, 56]],
  ['after-fire', [23, 65]],
  ['after-reply', [31, 130]],
  ['after-publish', [2, 10]],
];

let client: MongoClient;
type Cleanup = { stop(): Promise<unknown> }[];
beforeAll(async () => {
  client = await new MongoClient(testEnv().mongodbUrl).connect();
});
afterAll(async () => {
  await client.close();
});

async function participantsOf(domain: string, cleanup: Cleanup) {
  const flow = purchaseFlow(domain);
  const database = uniqueDatabase('crash-participants');
  const participants = await realService(testEnv(), {
    name: `participants-${domain}`,
    database,
    schemasDir: purchaseSchemaDirs,
    entities: [flow.stock, flow.wallet, flow.parcel],
    commandEndpoints: flow.endpoints,
  });
  await participants.service.start();
  cleanup.push({
    stop: async () => {
      await participants.service.stop();
      await participants.close();
    },
  });
  for (let i = 0; i < SKUS; i += 1) {
    await participants.service.execute(flow.stock, `sku-${i}`, 'Set', { available: 1000 });
    await participants.service.execute(flow.wallet, `c-${i}`, 'Deposit', { amount: 1_000_000 });
  }
  return { flow, database, participants };
}

function orchestratorProcess(
  cleanup: Cleanup,
  domain: string,
  database: string,
  killAt?: string,
  env: Record<string, string> = {},
): ChildService {
  const child = startChildService(
    testEnv(),
    {
      WF_DOMAIN: domain,
      WF_DATABASE: database,
      WF_COUNT: String(WORKFLOWS),
      ...(killAt === undefined ? {} : { WF_KILL_AT: killAt }),
      ...env,
    },
    script,
  );
  cleanup.push(child);
  return child;
}

/**
 * Participants, and `count` purchases of an orchestrator child process started with `env` (a
 * new process on the same database at each `start()`): their ids, their states, and a wait
 * for all of them to complete.
 */
async function childOrchestration(
  cleanup: Cleanup,
  prefix: string,
  count: number,
  env: Record<string, string>,
) {
  const domain = uniqueDomain();
  const participants = await participantsOf(domain, cleanup);
  const database = uniqueDatabase(prefix);
  const withCount = { ...env, WF_COUNT: String(count) };
  const start = () => orchestratorProcess(cleanup, domain, database, undefined, withCount);
  const store = new MongoEntityStore(client.db(database));
  const ids = Array.from({ length: count }, (_, i) => workflowIdOf('purchase', `order-${i}`));
  const stateOf = async (id: string) =>
    (await store.load<WorkflowState>(`${domain}.workflow`, id))?.state;
  const completed = async () => {
    const ended = new Map<string, WorkflowState>();
    await waitFor(
      async () => {
        for (const id of ids) {
          if (ended.has(id)) continue;
          const state = await stateOf(id);
          if (state?.status === 'completed') ended.set(id, state);
        }
        return ended.size === count;
      },
      { timeoutMs: 120_000, intervalMs: 500, description: `${count} workflows completed` },
    );
    return ended;
  };
  return { domain, ...participants, start, ids, stateOf, completed };
}

// Each kill point has its own domain, databases and processes: the points run side by side.
describe.concurrent(
  `SIGKILL of the orchestrator at each point, ${WORKFLOWS} workflows each: every workflow completes, each effect applied once`,
  () => {
    for (const [point, passages] of KILLS) {
      it(`killed ${passages.length} times at ${point}`, { timeout: 540_000 }, async () => {
        const began = Date.now();
        const cleanup: Cleanup = [];
        onTestFinished(async () => {
          for (const c of cleanup.splice(0).reverse()) await c.stop();
        });
        const domain = uniqueDomain();
        const { flow, database: participantsDb } = await participantsOf(domain, cleanup);
        const database = uniqueDatabase('crash-orchestrator');
        for (const n of passages) {
          const crashing = orchestratorProcess(cleanup, domain, database, `${point}:${n}`);
          expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
          expect(crashing.lines).toContain(`killed at ${point} #${n}`);
        }
        const finishing = orchestratorProcess(cleanup, domain, database);
        const store = new MongoEntityStore(client.db(database));
        const ids = Array.from({ length: WORKFLOWS }, (_, i) =>
          workflowIdOf('purchase', `order-${i}`),
        );
        // Only the workflows not seen completed yet are looked at again.
        const completed = new Map<string, WorkflowState>();
        await waitFor(
          async () => {
            for (const id of ids) {
              if (completed.has(id)) continue;
              const snapshot = await store.load<WorkflowState>(`${domain}.workflow`, id);
              if (snapshot?.state.status === 'completed') completed.set(id, snapshot.state);
            }
            return completed.size === WORKFLOWS;
          },
          {
            timeoutMs: 360_000,
            intervalMs: 3000,
            description: `${WORKFLOWS} workflows completed`,
          },
        );
        const states = [...completed.values()];
        await finishing.stop();
        for (const state of states) {
          expect(state.completed).toEqual(['reserve-item', 'hold-funds', 'ship-parcel']);
        }
        // Each participant applied exactly one command per workflow, the first attempt's, and no
        // command ever arrived that had nothing left to do.
        const db = client.db(participantsDb);
        for (const entity of [flow.stock, flow.wallet, flow.parcel]) {
          const commits = await db
            .collection<{
              causationKey: string;
              events: { type: string; metadata: { causationId: string } }[];
            }>(`${entity.type.replaceAll('.', '_')}_commits`)
            .find({ causationKey: /^command:/ })
            .toArray();
          expect(commits).toHaveLength(WORKFLOWS);
          // One causation key per step, whatever the attempt; the command applied was the first.
          expect(commits.every((c) => /:s\d$/.test(c.causationKey))).toBe(true);
          expect(
            commits.every((c) => c.events.every((e) => /:s\d\.1$/.test(e.metadata.causationId))),
          ).toBe(true);
          expect(commits.flatMap((c) => c.events).some((e) => e.type === COMMAND_ACCEPTED)).toBe(
            false,
          );
        }
        let reservations = 0;
        for (let i = 0; i < SKUS; i += 1) {
          const stock = await db
            .collection<{ state: StockState; version: number }>(
              `${flow.stock.type.replaceAll('.', '_')}_commits`,
            )
            .find({ entityId: `sku-${i}` })
            .sort({ version: -1 })
            .limit(1)
            .next();
          reservations += stock!.state.reservations;
          expect(stock!.state.available + Object.keys(stock!.state.reserved).length).toBe(1000);
        }
        expect(reservations).toBe(WORKFLOWS);
        console.log(
          `orchestrator killed at ${point} #${passages.join(', #')}: ${WORKFLOWS} workflows completed, ` +
            `${WORKFLOWS * 3} commands applied once each, in ${Math.round((Date.now() - began) / 1000)} s`,
        );
      });
    }
  },
);

describe('SIGKILL of the orchestrator while its workflows sleep', () => {
  it(
    'the next process wakes each on time, and each goes on once',
    { timeout: 300_000 },
    async () => {
      const cleanup: Cleanup = [];
      onTestFinished(async () => {
        for (const c of cleanup.splice(0).reverse()) await c.stop();
      });
      const count = 20;
      const { start, ids, stateOf, completed } = await childOrchestration(
        cleanup,
        'sleep-orchestrator',
        count,
        { WF_SLEEP_MS: '20000' },
      );
      const sleeping = start();
      // Every workflow asleep: when each is due to wake.
      const wakes = await waitFor(
        async () => {
          const due = new Map<string, number>();
          for (const id of ids) {
            const state = await stateOf(id);
            if (state?.current?.step === 'nap' && state.timer?.kind === 'sleep') {
              due.set(id, Date.parse(state.timer.dueAt));
            }
          }
          return due.size === count ? due : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, description: `${count} workflows asleep` },
      );
      await sleeping.stop('SIGKILL');
      expect(await sleeping.exited).toEqual({ code: null, signal: 'SIGKILL' });
      start();
      for (const [id, state] of await completed()) {
        expect(state.completed).toEqual(['reserve-item', 'nap', 'hold-funds', 'ship-parcel']);
        // Woken at its time: not before, and within the timer loop's look at the store (a second)
        // plus the steps after it.
        const late = Date.parse(state.endedAt!) - wakes.get(id)!;
        expect(late, id).toBeGreaterThanOrEqual(0);
        expect(late, id).toBeLessThan(10_000);
      }
    },
  );
});

describe('SIGKILL of the orchestrator while signals come', () => {
  it('loses no signal and applies each once', { timeout: 300_000 }, async () => {
    const cleanup: Cleanup = [];
    onTestFinished(async () => {
      for (const c of cleanup.splice(0).reverse()) await c.stop();
    });
    const count = 20;
    const {
      domain,
      flow,
      database: participantsDb,
      participants,
      start,
      ids,
      stateOf,
      completed,
    } = await childOrchestration(cleanup, 'signal-orchestrator', count, { WF_SIGNAL: '1' });
    const first = start();
    await waitFor(
      async () => {
        for (const id of ids) if ((await stateOf(id))?.current?.step !== 'wait-go') return false;
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: `${count} workflows waiting for go` },
    );
    // Every workflow's signal on its command topic, as another service sends it; the orchestrator
    // is killed while it takes them, and the next one takes the rest.
    const bus = serviceBus(testEnv(), `signals-${domain}`);
    cleanup.push({ stop: () => bus.close() });
    const control = new WorkflowControl({
      publisher: bus,
      serde: participants.serde,
      service: 'test',
    });
    const signal = (i: number) =>
      control.signal(
        { workflowId: ids[i]!, entityType: `${domain}.workflow` },
        { name: 'go', payload: { n: i }, requestedBy: 'test', idempotencyKey: `go-${i}` },
      );
    for (let i = 0; i < count; i += 1) await signal(i);
    await waitFor(async () => (await stateOf(ids[0]!))?.completed.includes('wait-go') === true, {
      timeoutMs: 30_000,
      intervalMs: 100,
      description: 'a signal taken',
    });
    await first.stop('SIGKILL');
    let taken = 0;
    for (const id of ids)
      if ((await stateOf(id))?.completed.includes('wait-go') === true) taken += 1;
    console.log(`orchestrator killed with ${taken} of ${count} signals taken`);
    start();
    // Each signal sent a second time (the same keys): nothing changes.
    for (let i = 0; i < count; i += 1) await signal(i);
    const ended = await completed();
    for (const [i, id] of ids.entries()) {
      expect(ended.get(id)).toMatchObject({
        completed: ['reserve-item', 'wait-go', 'hold-funds', 'ship-parcel'],
        results: { 'wait-go': { n: i } },
      });
    }
    // Each workflow's funds held once: the signal moved it on once.
    const holds = await client
      .db(participantsDb)
      .collection(`${flow.wallet.type.replaceAll('.', '_')}_commits`)
      .countDocuments({ causationKey: /^command:.*:s2$/ });
    expect(holds).toBe(count);
  });
});
