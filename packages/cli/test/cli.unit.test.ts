import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAdminApp } from '@sagaflow/admin';
import { replayTopic } from '@sagaflow/core';
import {
  MemoryAuditLog,
  MemoryBus,
  MemoryDeadLetterStore,
  MemorySagaViewStore,
  seedSagaViews,
} from '@sagaflow/testing/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSagaflowBinary } from '../src/binary.js';
import { timeline } from '../src/output.js';

/** The reference schemas of the repository. */
const schemasDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas');

const TOKEN = 'cli-test-token';

let url = '';
let close = () => {};
const compensations: string[] = [];
const bus = new MemoryBus();
const letters = new MemoryDeadLetterStore();
const letterIds = [1, 2, 3].map((offset) => `svc.p/shop.order.events/0/${offset}`);

beforeAll(async () => {
  // Completed s-done, compensated s-comp, stuck s-stuck, running s-run.
  const { views } = await seedSagaViews(new MemorySagaViewStore());
  for (const [i, id] of letterIds.entries()) {
    await letters.record({
      id,
      group: 'svc.p',
      sourceTopic: 'shop.order.events',
      sourcePartition: 0,
      sourceOffset: String(i + 1),
      reason: `cannot decode OrderPlaced #${i + 1}`,
      errorCode: 'SERDE_FAILED',
      attempts: 1,
      failedAt: `2026-03-01T00:00:0${i}.000Z`,
      eventType: 'OrderPlaced',
      key: `o-${i}`,
      value: Buffer.from(`payload ${i}`).toString('base64'),
      headers: { 'sagaflow-event-type': 'OrderPlaced' },
      replays: [],
    });
  }
  const app = createAdminApp({
    deadLetters: { store: letters, publisher: bus.client() },
    views,
    audit: new MemoryAuditLog(),
    token: TOKEN,
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    requestCompensation: async (sagaId) => {
      compensations.push(sagaId);
      return views.view(sagaId);
    },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

/** Runs the binary against the test's admin API. */
const sagaflow = (args: string[], env: Record<string, string> = { ADMIN_TOKEN: TOKEN }) =>
  runSagaflowBinary(args, { SAGAFLOW_ADMIN_URL: url, ADMIN_TOKEN: '', ...env });

// Each test starts the binary several times (node + tsx, about a second each on a busy machine).
describe('sagaflow CLI', { timeout: 60_000 }, () => {
  it('lists sagas as a table and as JSON, filtered by status', async () => {
    const all = await sagaflow(['sagas', 'list']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^SAGA\s+TYPE\s+STATUS/);
    expect(all.stdout).toMatch(/s-done\s+order-placement\s+completed\s+order-s-done/);
    expect(all.stdout).toMatch(/s-comp\s+order-placement\s+compensated/);
    const json = await sagaflow(['--json', 'sagas', 'list', '--status', 'running']);
    expect(json.code).toBe(0);
    const ids = (JSON.parse(json.stdout) as { sagas: { sagaId: string }[] }).sagas.map(
      (s) => s.sagaId,
    );
    expect(ids).toEqual(['s-run']);
  });

  it('shows a saga with its steps and timeline', async () => {
    const shown = await sagaflow(['sagas', 'show', 's-done']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/s-done\s+order-placement\s+COMPLETED/);
    expect(shown.stdout).toMatch(/reserve-stock\s+inventory\s+done/);
    expect(shown.stdout).toMatch(
      /\+1000 ms\s+StockReserved\s+inventory-service\s+orders\.order\.events\[0\]@/,
    );
  });

  it("shows what a workflow's active step waits on, and until when, and parallel branches", () => {
    const shown = timeline({
      sagaId: 'wf-1',
      type: 'purchase',
      status: 'running',
      startedAt: '2026-12-02T10:00:00.000Z',
      steps: [
        { name: 'nap', participant: 'sleep', status: 'done' },
        { name: 'reserve', parallel: 'hold', participant: 'shop.stock', status: 'done' },
        { name: 'pay', parallel: 'hold', participant: 'shop.wallet', status: 'done' },
        {
          name: 'approval',
          participant: 'signal approval',
          status: 'active',
          deadlineAt: '2026-12-03T10:00:00.000Z',
        },
      ],
      timeline: [],
    });
    expect(shown).toMatch(/approval\s+signal approval\s+active\s+2026-12-03T10:00:00\.000Z/);
    expect(shown).toMatch(/nap\s+sleep\s+done\s*\n/);
    // The branches of a parallel step, under its name.
    expect(shown).toMatch(
      /hold ∥ reserve\s+shop\.stock\s+done\s*\nhold ∥ pay\s+shop\.wallet\s+done/,
    );
  });

  it('shows the replies an active step awaits, and a compensation in flight', () => {
    const shown = timeline({
      sagaId: 'wf-2',
      type: 'purchase',
      status: 'compensating',
      startedAt: '2026-12-02T10:00:00.000Z',
      steps: [
        {
          name: 'reserve',
          participant: 'shop.stock',
          status: 'active',
          compensating: true,
          deadlineAt: '2026-12-02T10:00:30.000Z',
        },
        {
          name: 'pay',
          participant: 'shop.wallet',
          status: 'active',
          deadlineAt: '2026-12-02T10:00:40.000Z',
          awaits: ['FundsHeld', 'FundsRefused'],
        },
      ],
      timeline: [],
    });
    expect(shown).toMatch(/STEP\s+PARTICIPANT\s+STATUS\s+UNTIL\s+AWAITS\n/);
    expect(shown).toMatch(
      /reserve\s+shop\.stock\s+active \(compensation\)\s+2026-12-02T10:00:30\.000Z\s+any reply\n/,
    );
    expect(shown).toMatch(
      /pay\s+shop\.wallet\s+active\s+2026-12-02T10:00:40\.000Z\s+FundsHeld \| FundsRefused/,
    );
  });

  it('asks for compensation with a reason', async () => {
    const done = await sagaflow(['sagas', 'compensate', 's-run', '--reason', 'customer cancelled']);
    expect(done.code, done.stderr).toBe(0);
    expect(compensations).toEqual(['s-run']);
    const ended = await sagaflow(['sagas', 'compensate', 's-done', '--reason', 'too late']);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(/is completed: there is nothing to compensate \(SAGA_ENDED\)/);
  });

  it('exits with a code per failure kind, naming what was wrong', async () => {
    const noToken = await sagaflow(['sagas', 'list'], {});
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toMatch(/--token or ADMIN_TOKEN/);
    const missing = await sagaflow(['sagas', 'show', 'nope']);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/no saga 'nope'/);
    const down = await sagaflow(['--url', 'http://127.0.0.1:1', 'sagas', 'list']);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach the admin API at http:\/\/127\.0\.0\.1:1/);
    const badStatus = await sagaflow(['sagas', 'list', '--status', 'bogus']);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/'bogus' is invalid/);
    const noReason = await sagaflow(['sagas', 'retry', 's-run']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
  });

  it('names a bad registry or broker address, and tells an unreachable one apart', async () => {
    const badRegistry = await sagaflow(['schemas', 'check', '--registry', 'registry:8081']);
    expect(badRegistry.code).toBe(2);
    expect(badRegistry.stderr).toMatch(
      /--registry must be an http\(s\) URL \(got 'registry:8081'\)/,
    );
    const registryDown = await sagaflow([
      'schemas',
      'check',
      '--schemas',
      schemasDir,
      '--registry',
      'http://127.0.0.1:1',
    ]);
    expect(registryDown.code).toBe(3);
    expect(registryDown.stderr).toMatch(/the registry at http:\/\/127\.0\.0\.1:1 does not answer/);
    const noSchemas = await sagaflow(['schemas', 'check', '--schemas', `${schemasDir}-none`]);
    expect(noSchemas.code).not.toBe(0);
    expect(noSchemas.stderr).toContain(`${schemasDir}-none`);
    const badBrokers = await sagaflow(['topics', 'describe', '--brokers', 'kafka']);
    expect(badBrokers.code).toBe(2);
    expect(badBrokers.stderr).toMatch(/--brokers must be host:port\[,host:port…\] \(got 'kafka'\)/);
    const kafkaDown = await sagaflow(['topics', 'describe', '--brokers', '127.0.0.1:1']);
    expect(kafkaDown.code).toBe(3);
    expect(kafkaDown.stderr).toMatch(/Kafka does not answer at 127\.0\.0\.1:1/);
  });

  it('lists dead letters and replays several with progress on stderr', async () => {
    const list = await sagaflow(['dlq', 'list', '--topic', 'shop.order.events']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+TOPIC\s+FAILED\s+REPLAYS\s+REASON/);
    expect(list.stdout).toMatch(
      /svc\.p\/shop\.order\.events\/0\/3\s+shop\.order\.events\s+\S+\s+0\s+cannot decode OrderPlaced #3/,
    );
    const replay = await sagaflow([
      '--operator',
      'ops-jane',
      'dlq',
      'replay',
      ...letterIds,
      '--reason',
      'the decoder is fixed',
    ]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toBe('replayed 3 dead letter(s)\n');
    expect(replay.stderr).toContain('replayed 1/3');
    expect(replay.stderr).toContain('replayed 3/3');
    // The originals are on their group's replay topic, and each letter says who replayed it.
    const ends = await bus.endOffsets(replayTopic('svc.p'));
    expect([...ends.values()].reduce((a, b) => a + b, 0n)).toBe(3n);
    for (const id of letterIds) {
      expect((await letters.get(id))?.replays).toEqual([
        { by: 'ops-jane', at: expect.any(String) as string },
      ]);
    }
    const unknown = await sagaflow(['dlq', 'replay', 'svc.p/none/0/9', '--reason', 'try']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/no dead letter 'svc\.p\/none\/0\/9'/);
  });
});
