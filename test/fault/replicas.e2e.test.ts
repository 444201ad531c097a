import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsTopic } from '@sagaflow/core';
import { testEnv, uniqueDatabase } from '@sagaflow/testing';
import { waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { startChildService, type ChildService } from '../fixtures/child-service.js';
import { stopAfterEach } from '../fixtures/stop-after-each.js';
import { startPipeline, uniqueDomain, type Pipeline } from '../fixtures/pipeline.js';
import { readTopic } from '../fixtures/topic-reader.js';

const COMMANDS = 1000;
const ACCOUNTS = 20;
const PER_ACCOUNT = COMMANDS / ACCOUNTS;
const script = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/replica-service.ts',
);

const cleanup = stopAfterEach();

interface Setup {
  readonly domain: string;
  readonly database: string;
  readonly replicas: number;
  readonly shards: number;
}

const fresh = (replicas: number, shards: number): Setup => ({
  domain: uniqueDomain(),
  database: uniqueDatabase('replicas'),
  replicas,
  shards,
});

function replica(setup: Setup, r: number): ChildService {
  const child = startChildService(
    testEnv(),
    {
      DEMO_DOMAIN: setup.domain,
      DEMO_DATABASE: setup.database,
      DEMO_REPLICA: String(r),
      DEMO_REPLICAS: String(setup.replicas),
      DEMO_SHARDS: String(setup.shards),
      DEMO_COMMANDS: String(COMMANDS),
      DEMO_ACCOUNTS: String(ACCOUNTS),
    },
    script,
  );
  cleanup.push(child);
  return child;
}

/** Every event once on the topic, each account's versions in order, every deposit in the state. */
async function expectEachEventOnceInOrder(setup: Setup) {
  const observer: Pipeline = await startPipeline(testEnv(), {
    domain: setup.domain,
    database: setup.database,
    service: `observer-${setup.domain}`,
  });
  cleanup.push(observer);
  const reader = await readTopic(testEnv().kafkaBrokers, eventsTopic(observer.account.type));
  cleanup.push(reader);
  await waitFor(() => new Set(reader.messages.map((m) => m.eventId)).size >= COMMANDS, {
    timeoutMs: 90_000,
    description: `${COMMANDS} distinct events on the topic`,
  });
  // Nothing more comes: a late duplicate would show within the relays' next rounds.
  const settled = reader.messages.length;
  await waitFor(() => reader.messages.length > settled, { timeoutMs: 2000 }).catch(() => {});
  expect(new Set(reader.messages.map((m) => m.eventId)).size).toBe(COMMANDS);
  expect(reader.messages).toHaveLength(COMMANDS);
  let total = 0;
  for (let a = 0; a < ACCOUNTS; a += 1) {
    const versions = reader.messages
      .filter((m) => m.key === `acc-${a}`)
      .map((m) => Number(m.headers['sagaflow-entity-version']));
    expect(versions).toEqual([...Array(PER_ACCOUNT).keys()].map((v) => v + 1));
    const account = await observer.store.load<{ balance: number }>(
      observer.account.type,
      `acc-${a}`,
    );
    expect(account!.version).toBe(PER_ACCOUNT);
    total += account!.state.balance;
  }
  expect(total).toBe((COMMANDS * (COMMANDS + 1)) / 2);
}

/** The shards each replica owned at some point. */
const ownedBy = (children: readonly ChildService[]) =>
  children.map((c) =>
    c.lines
      .filter((l) => l.startsWith('owns '))
      .flatMap((l) => l.slice(5).split(','))
      .filter((s) => s !== ''),
  );

describe(
  `replicas of one service share its outbox shards, ${COMMANDS} commits`,
  // The ceiling of a run on a loaded machine; the waits inside fail early on a silent replica.
  { timeout: 600_000 },
  () => {
    it('two replicas, one SIGKILLed mid-run and started again: every event once, in order', async () => {
      const setup = fresh(2, 4);
      const first = [replica(setup, 0), replica(setup, 1)];
      await first[1]!.waitForLine(/^executed 100$/, 120_000);
      await first[1]!.stop('SIGKILL');
      const again = replica(setup, 1);
      await Promise.all(
        [first[0]!, again].map((c) => c.waitForLine(/^commands done$/, 120_000, { idle: true })),
      );
      // Every shard was relayed, and both processes of the second run shared the publishing.
      const [survivor, restarted] = ownedBy([first[0]!, again]);
      expect(survivor!.length).toBeGreaterThan(0);
      expect(restarted!.length).toBeGreaterThan(0);
      expect(new Set(ownedBy(first).flat()).size).toBe(4);
      await expectEachEventOnceInOrder(setup);
    });

    it('three replicas restarted one by one while they work: every event once, in order', async () => {
      const setup = fresh(3, 6);
      const running = [replica(setup, 0), replica(setup, 1), replica(setup, 2)];
      for (let r = 0; r < 3; r += 1) {
        await running[r]!.waitForLine(/^executed 50$/, 120_000);
        await running[r]!.stop();
        expect(await running[r]!.exited).toEqual({ code: 0, signal: null });
        running[r] = replica(setup, r);
        await running[r]!.waitForLine(/^ready$/, 60_000);
      }
      // Each replica prints its progress every 50 commands: waited for while it progresses.
      await Promise.all(
        running.map((c) => c.waitForLine(/^commands done$/, 120_000, { idle: true })),
      );
      for (const shards of ownedBy(running)) expect(shards.length).toBeGreaterThan(0);
      await expectEachEventOnceInOrder(setup);
    });
  },
);
