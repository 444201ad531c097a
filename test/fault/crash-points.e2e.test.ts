import { eventsTopic } from '@sagaflow/core';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { describe, expect, it } from 'vitest';
import { startChildService, type ChildService } from '../fixtures/child-service.js';
import { stopAfterEach } from '../fixtures/stop-after-each.js';
import type { MirrorState } from '../fixtures/demo-domain.js';
import { startPipeline, uniqueDomain, type Pipeline } from '../fixtures/pipeline.js';
import { readTopic } from '../fixtures/topic-reader.js';

const COMMANDS = 200;
const ACCOUNTS = 10;
const PER_ACCOUNT = COMMANDS / ACCOUNTS;

const cleanup = stopAfterEach();

interface Setup {
  readonly domain: string;
  readonly database: string;
}

const fresh = (): Setup => ({ domain: uniqueDomain(), database: uniqueDatabase('fault') });

function child(setup: Setup, role: 'writer' | 'mirror', killAt?: string): ChildService {
  const service = startChildService(testEnv(), {
    DEMO_ROLE: role,
    DEMO_DOMAIN: setup.domain,
    DEMO_DATABASE: setup.database,
    DEMO_SERVICE: `${role}-${setup.domain}`,
    DEMO_COMMANDS: String(COMMANDS),
    ...(killAt === undefined ? {} : { DEMO_KILL_AT: killAt }),
  });
  cleanup.push(service);
  return service;
}

/** Runs the writer, killing it at each point in turn, then lets it finish. */
async function writeWithCrashes(setup: Setup, kills: readonly string[]) {
  for (const killAt of kills) {
    const crashing = child(setup, 'writer', killAt);
    expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(crashing.lines).toContain(`killed at ${killAt.replace(':', ' #')}`);
  }
  const finishing = child(setup, 'writer');
  await finishing.waitForLine(/^done$/, 120_000);
  expect(await finishing.exited).toEqual({ code: 0, signal: null });
}

/** An in-process view on the same database and topics, to check the invariants. */
async function observer(setup: Setup): Promise<Pipeline> {
  const p = await startPipeline(testEnv(), { ...setup, service: `observer-${setup.domain}` });
  cleanup.push(p);
  return p;
}

async function expectEveryEventPublished(p: Pipeline) {
  const reader = await readTopic(testEnv().kafkaBrokers, eventsTopic(p.account.type));
  cleanup.push(reader);
  await waitFor(() => new Set(reader.messages.map((m) => m.eventId)).size >= COMMANDS, {
    timeoutMs: 60_000,
    description: `${COMMANDS} distinct events on the topic`,
  });
  const ids = new Set(reader.messages.map((m) => m.eventId));
  expect(ids.size).toBe(COMMANDS);
  for (let a = 0; a < ACCOUNTS; a += 1) {
    const versions = reader.messages
      .filter((m) => m.key === `acc-${a}`)
      .map((m) => Number(m.headers['sagaflow-entity-version']));
    // In order per entity; a re-published batch repeats a run of versions, never reorders one.
    const firstSeen = versions.filter((v, i) => versions.indexOf(v) === i);
    expect(firstSeen).toEqual([...Array(PER_ACCOUNT).keys()].map((v) => v + 1));
  }
  return reader.messages.length - ids.size;
}

async function expectEachAppliedOnceInOrder(p: Pipeline) {
  const mirrors = await waitFor(
    async () => {
      const all = await Promise.all(
        Array.from({ length: ACCOUNTS }, (_, a) =>
          p.store.load<MirrorState>(p.mirror.type, `acc-${a}`),
        ),
      );
      return all.every((m) => (m?.state.applied.length ?? 0) >= PER_ACCOUNT) ? all : undefined;
    },
    { timeoutMs: 90_000, description: 'every deposit mirrored' },
  );
  let total = 0;
  for (const [a, mirror] of mirrors.entries()) {
    expect(mirror!.state.applied).toEqual([...Array(PER_ACCOUNT).keys()].map((v) => v + 1));
    expect(mirror!.version).toBe(PER_ACCOUNT);
    const account = await p.store.load<{ balance: number }>(p.account.type, `acc-${a}`);
    expect(account!.version).toBe(PER_ACCOUNT);
    expect(mirror!.state.balance).toBe(account!.state.balance);
    total += account!.state.balance;
  }
  expect(total).toBe((COMMANDS * (COMMANDS + 1)) / 2);
}

// Each case runs a writer process three times (two kills, then to the end) beside an observer:
// a few minutes when the other end-to-end files load the machine too.
describe(
  `SIGKILL at named points, ${COMMANDS} commands each: nothing lost, nothing applied twice`,
  { timeout: 300_000 },
  () => {
    it('after the state write, before the publish', async () => {
      const setup = fresh();
      await writeWithCrashes(setup, ['after-state-write:57', 'after-state-write:64']);
      const p = await observer(setup);
      await expectEveryEventPublished(p);
      await p.startProcessor(p.mirrorProcessor);
      await expectEachAppliedOnceInOrder(p);
    });

    it('after the publish, before the mark', async () => {
      const setup = fresh();
      await writeWithCrashes(setup, ['after-publish:3', 'after-publish:2']);
      const p = await observer(setup);
      // The checkpoint published with each batch lets the restarted relay mark the batch it had
      // published before dying: no event reaches the topic twice.
      expect(await expectEveryEventPublished(p)).toBe(0);
      await p.startProcessor(p.mirrorProcessor);
      await expectEachAppliedOnceInOrder(p);
    });

    it('after handling, before the offset commit', async () => {
      const setup = fresh();
      await writeWithCrashes(setup, []);
      for (const killAt of ['after-handle:37', 'after-handle:45', 'after-handle:60']) {
        const crashing = child(setup, 'mirror', killAt);
        expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
      }
      const mirror = child(setup, 'mirror');
      await mirror.waitForLine(/^ready$/);
      const p = await observer(setup);
      await expectEachAppliedOnceInOrder(p);
      await mirror.stop();
      // The crashed runs really redelivered handled events, and they changed nothing.
      const redelivered = cleanup
        .flatMap((c) => ('lines' in c ? (c as ChildService).lines : []))
        .filter((l) => l.startsWith('mirrored duplicate'));
      expect(redelivered.length).toBeGreaterThan(0);
    });
  },
);
