/// <reference lib="dom" />
import { access, mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { repoRoot } from '@sagaflow/infra-local';
import {
  commandsTopic,
  controlSchemasDir,
  deriveSagaView,
  replayTopic,
  WorkflowControl,
  type SagaView,
  type TimelineEntry,
} from '@sagaflow/core';
import { MemoryBus, MemorySerde } from '@sagaflow/testing/memory';
import { MongoAuditLog, MongoDeadLetterStore } from '@sagaflow/mongodb';
import { loadSchemaCatalog } from '@sagaflow/schema-registry';
import { testEnv, uniqueDatabase } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../src/index.js';
import { busWithBacklog, seedSagas, TOKEN } from './seed.js';

/** Debian's Chromium: never a downloaded browser. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const screenshotDir = path.join(repoRoot, 'test-results');

/** A failed workflow, as the tracker shows one: an operator may retry it. */
const WORKFLOW = 'wf-0123456789abcdef0123456789abcdef';
const failedWorkflow: SagaView = {
  sagaId: WORKFLOW,
  type: 'purchase',
  status: 'failed',
  businessKey: 'p-7',
  startedAt: '2026-11-19T10:00:00.000Z',
  updatedAt: '2026-11-19T10:00:05.000Z',
  endedAt: '2026-11-19T10:00:05.000Z',
  error: 'ship-parcel had no reply after 3 attempts',
  steps: [
    { name: 'hold-funds', participant: 'payment-service', status: 'done' },
    { name: 'ship-parcel', participant: 'shipping-service', status: 'failed' },
  ],
  timeline: [
    {
      eventId: 'e-wf-1',
      type: 'WorkflowStarted',
      participant: 'orchestrator-service',
      entityType: 'sagaflow.workflow',
      entityId: WORKFLOW,
      topic: 'sagaflow.workflow.events',
      partition: 0,
      offset: '0',
      occurredAt: '2026-11-19T10:00:00.000Z',
      keyFields: {},
    },
  ],
};

/**
 * Workflows that wait, derived from their events as the tracker derives them (the orchestrator's
 * `WorkflowStepStarted` says which replies a command waits for): the branches of a parallel step
 * (one waits for the replies its step lists, the other for any reply), a signal, a sleep, a
 * compensation. Started the day before the others, they are listed after them.
 */
function waitingWorkflows(): SagaView[] {
  let offset = 0;
  const at = (second: number) => new Date(Date.UTC(2026, 10, 18, 9, 0, second)).toISOString();
  const event = (
    id: string,
    type: string,
    second: number,
    keyFields: TimelineEntry['keyFields'],
  ): TimelineEntry => ({
    eventId: `${id}-${(offset += 1)}`,
    type,
    participant: 'orchestrator-service',
    entityType: 'sagaflow.workflow',
    entityId: id,
    topic: 'sagaflow.workflow.events',
    partition: 0,
    offset: String(offset),
    occurredAt: at(second),
    keyFields,
  });
  const begin = (id: string, steps: string) =>
    event(id, 'WorkflowStarted', 0, { workflowType: 'order-fulfillment', businessKey: id, steps });
  const step = (id: string, second: number, fields: TimelineEntry['keyFields']) =>
    event(id, 'WorkflowStepStarted', second, { phase: 'forward', attempt: 1, ...fields });
  const ended = (id: string, second: number, name: string, type = 'WorkflowStepSucceeded') =>
    event(id, type, second, { step: name, phase: 'forward', attempt: 1, reason: 'no funds' });
  const timelines: Record<string, TimelineEntry[]> = {
    'wf-branches': [
      begin('wf-branches', 'hold/reserve-stock,hold/authorize-payment,ship'),
      step('wf-branches', 1, {
        step: 'reserve-stock',
        entityType: 'inventory.stock',
        deadlineAt: at(31),
        awaits: 'StockReserved,StockUnavailable,CommandAccepted,CommandRejected',
      }),
      step('wf-branches', 1, {
        step: 'authorize-payment',
        entityType: 'payment.account',
        deadlineAt: at(61),
        awaits: '',
      }),
    ],
    'wf-signal': [
      begin('wf-signal', 'reserve,approval'),
      step('wf-signal', 1, { step: 'reserve', entityType: 'inventory.stock', deadlineAt: at(31) }),
      ended('wf-signal', 2, 'reserve'),
      step('wf-signal', 3, {
        step: 'approval',
        commandType: 'signal',
        entityId: 'approval',
        deadlineAt: '',
      }),
    ],
    'wf-sleep': [
      begin('wf-sleep', 'cool-off'),
      step('wf-sleep', 1, {
        step: 'cool-off',
        commandType: 'sleep',
        deadlineAt: '2099-01-01T00:00:00.000Z',
      }),
    ],
    'wf-undo': [
      begin('wf-undo', 'reserve,pay'),
      step('wf-undo', 1, { step: 'reserve', entityType: 'inventory.stock', deadlineAt: at(31) }),
      ended('wf-undo', 2, 'reserve'),
      step('wf-undo', 3, { step: 'pay', entityType: 'payment.account', deadlineAt: at(33) }),
      ended('wf-undo', 4, 'pay', 'WorkflowStepRejected'),
      event('wf-undo', 'WorkflowCompensationStarted', 4, { reason: 'no funds' }),
      step('wf-undo', 5, {
        step: 'reserve',
        phase: 'compensation',
        entityType: 'inventory.stock',
        deadlineAt: at(35),
        awaits: '',
      }),
    ],
  };
  const now = new Date().toISOString();
  return Object.entries(timelines).map(([id, timeline]) =>
    deriveSagaView([], id, timeline, { now }),
  );
}

/** A message the payment service's processor could not handle. */
const deadLetter = {
  id: 'payment-service.payment.dlq/0/7',
  group: 'payment-service.payment',
  sourceTopic: 'orders.order.events',
  sourcePartition: 0,
  sourceOffset: '7',
  reason: 'no handler for OrderCreated',
  errorCode: 'UNKNOWN_EVENT_TYPE',
  attempts: 1,
  failedAt: '2026-11-22T10:00:03.000Z',
  eventType: 'OrderCreated',
  key: 'o-7',
  value: Buffer.from('{}').toString('base64'),
  headers: {},
  replays: [],
};

describe('admin web page in headless Chromium', () => {
  let client: MongoClient;
  let server: Server;
  let browser: Browser;
  let base: string;
  let control: MemoryBus;

  beforeAll(async () => {
    await access(CHROMIUM).catch(() => {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`,
      );
    });
    client = await new MongoClient(testEnv().mongodbUrl).connect();
    const db = client.db(uniqueDatabase('ui'));
    const { views, tracker } = await seedSagas(db);
    await views.writeViews([failedWorkflow, ...waitingWorkflows()]);
    const letters = new MongoDeadLetterStore(db);
    await letters.record(deadLetter);
    // The operators' commands go out on this bus: a workflow's retry, a dead letter's replay.
    control = new MemoryBus();
    // A view's group three events behind, and a tracker caught up (it has no events to read).
    const bus = await busWithBacklog();
    const app = createAdminApp({
      lag: {
        offsets: bus,
        readers: [
          { group: 'admin.tracker', topics: ['shop.empty.events'], kind: 'tracker' },
          {
            group: 'order.view.orders-by-customer.v1',
            topics: ['shop.order.events'],
            kind: 'view',
            name: 'orders-by-customer',
          },
        ],
      },
      views,
      audit: new MongoAuditLog(db),
      deadLetters: { store: letters, publisher: control.client() },
      workflowControl: new WorkflowControl({
        publisher: control.client(),
        serde: new MemorySerde(await loadSchemaCatalog([controlSchemasDir])),
        service: 'admin',
      }),
      token: TOKEN,
      requestCompensation: (id, request) => tracker.requestCompensation(id, request),
      readiness: () => Promise.resolve({ ready: true, checks: {} }),
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await client?.close();
  });

  it('lists sagas with live counts, opens a timeline with its failed and compensating steps, and takes a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/`);
    expect(await page.title()).toBe('sagaflow admin');
    await page.fill('#token', TOKEN);
    await page.click('#login button');
    await page.waitForSelector('tr[data-saga="s-comp"]');
    const rows = await page.$$eval('#sagas tbody tr', (trs) =>
      trs.map((tr) => tr.getAttribute('data-saga')),
    );
    expect(rows).toEqual([
      's-run',
      's-stuck',
      's-comp',
      's-done',
      WORKFLOW,
      // Started at the same time: by id, descending.
      'wf-undo',
      'wf-sleep',
      'wf-signal',
      'wf-branches',
    ]);
    // How far behind the readers are, as of when.
    await page.waitForSelector('#lag .reader');
    expect(await page.textContent('#lag')).toMatch(
      /^Data as of .+: tracker 0 behindview orders-by-customer 3 behind$/,
    );
    const counts = await page.$$eval('#counts .count', (spans) => spans.map((s) => s.textContent));
    expect(counts).toEqual(
      expect.arrayContaining(['order-placement · completed: 1', 'order-placement · stuck: 1']),
    );

    await page.click('tr[data-saga="s-comp"]');
    await page.waitForSelector('#timeline svg');
    expect(await page.textContent('#detail-status')).toBe('compensated');
    const steps = await page.$$eval('#steps li', (items: Element[]) =>
      items.map((li) => li.getAttribute('class')),
    );
    expect(steps).toEqual(['step-compensated', 'step-failed']);
    const events = await page.$$eval('#timeline g.event', (groups) =>
      groups.map((g) => `${g.getAttribute('data-type')}:${g.getAttribute('class')}`),
    );
    expect(events).toEqual([
      'OrderCreated:event normal',
      'StockReserved:event normal',
      'PaymentFailed:event failure',
      'StockReleased:event compensation',
      'OrderRejected:event normal',
    ]);

    // Filtering narrows the list.
    await page.selectOption('#status', 'stuck');
    await page.click('#filters button');
    await page.waitForFunction(() => document.querySelectorAll('#sagas tbody tr').length === 3);
    expect(
      await page.$$eval('#sagas tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-saga'))),
    ).toEqual(['s-stuck', 'wf-undo', 'wf-branches']);

    await mkdir(screenshotDir, { recursive: true });
    const file = path.join(screenshotDir, 'admin-saga-timeline.png');
    // A stuck saga whose message waits says for what, in the list and in its detail.
    expect(await page.textContent('tr[data-saga="s-stuck"] .waiting')).toBe('waiting');
    await page.click('tr[data-saga="s-stuck"]');
    await page.waitForFunction(
      () => document.querySelector('#detail-status')?.textContent === 'stuck',
    );
    expect(await page.isVisible('#detail-waiting')).toBe(true);
    expect(await page.textContent('#detail-waiting')).toMatch(
      /^Waiting since .+: schema registry unreachable: ECONNREFUSED \(StockReserved held by payment-service\.payment, payment-service\)$/,
    );
    await page.screenshot({
      path: path.join(screenshotDir, 'admin-saga-waiting.png'),
      fullPage: true,
    });
    await page.click('#status');
    await page.selectOption('#status', '');
    await page.click('#filters button');
    await page.click('tr[data-saga="s-comp"]');
    await page.waitForFunction(
      () => document.querySelector('#detail-status')?.textContent === 'compensated',
    );
    await page.screenshot({ path: file, fullPage: true });
    await expect(access(file)).resolves.toBeUndefined();
    process.stdout.write(`screenshot: ${file}\n`);
  });

  it('explains a stuck saga beside the whole list, and acts on the page with a confirmation and a reason the audit trail shows', async () => {
    await mkdir(screenshotDir, { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/ui/`);
    await page.fill('#token', TOKEN);
    await page.fill('#operator', 'ann');
    await page.click('#login button');
    await page.click('tr[data-saga="s-stuck"]');
    await page.waitForFunction(
      () => document.querySelector('#detail-status')?.textContent === 'stuck',
    );
    expect(new URL(page.url()).hash).toBe('#saga=s-stuck');
    // The list keeps every column, uncut, with a saga open.
    const columns = await page.$$eval('#sagas th', (ths) =>
      ths.map((th) => {
        const box = th.getBoundingClientRect();
        return { name: th.textContent, right: box.right, width: box.width };
      }),
    );
    expect(columns.map((c) => c.name)).toEqual([
      'Saga',
      'Type',
      'Key',
      'Status',
      'Step',
      'Started',
      'Events',
    ]);
    for (const column of columns) {
      expect(column.width).toBeGreaterThan(20);
      expect(column.right).toBeLessThanOrEqual(1400);
    }
    expect(
      await page.$$eval(
        '#sagas td',
        (tds) => tds.filter((td) => td.scrollWidth > td.clientWidth).length,
      ),
    ).toBe(0);
    expect(await page.textContent('tr[data-saga="s-stuck"] td:nth-child(5)')).toBe(
      'authorize-payment',
    );
    // What it waits for, from whom, since and until when.
    expect(await page.textContent('#detail-awaiting li')).toMatch(
      /^Step authorize-payment waits for PaymentAuthorized or PaymentFailed from payment, since .+, until .+ \(overdue by \d+ days\)$/,
    );
    // The timeline shows what comes next, in the awaited service's lane, with its deadline.
    const next = await page.$eval('#timeline g.awaited', (g) => ({
      awaits: g.getAttribute('data-awaits'),
      text: g.textContent,
    }));
    expect(next.awaits).toBe('PaymentAuthorized|PaymentFailed');
    expect(next.text).toMatch(/^awaits PaymentAuthorized \| PaymentFailedoverdue since .+$/);
    await page.screenshot({
      path: path.join(screenshotDir, 'admin-stuck-saga.png'),
      fullPage: true,
    });

    // Compensate: a confirmation that says what happens, a reason, then the audit trail.
    expect(await page.isVisible('#act-retry')).toBe(false);
    await page.click('#act-compensate');
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-title')).toBe('Compensate s-stuck');
    expect(await page.textContent('#confirm-text')).toMatch(/undone, last first/);
    await page.click('#confirm-ok'); // no reason: the form does not send
    expect(await page.isVisible('#confirm')).toBe(true);
    await page.fill('#confirm-reason', 'customer called');
    await page.screenshot({ path: path.join(screenshotDir, 'admin-confirm-compensate.png') });
    await page.click('#confirm-ok');
    await page.waitForFunction(
      () =>
        document.querySelector('#message')?.textContent === 'compensation requested for s-stuck',
    );
    await page.waitForFunction(() =>
      document.querySelector('#detail-audit li[data-action="saga.compensate"]'),
    );
    expect(await page.textContent('#detail-audit li')).toMatch(
      /^.+ · ann · saga\.compensate s-stuck · done · "customer called"$/,
    );
    await page.waitForFunction(
      () => document.querySelector('#detail-status')?.textContent === 'compensating',
    );
    // A compensating saga says what it waits for: the compensation of the step done.
    expect(await page.textContent('#detail-awaiting')).toMatch(
      /Compensation of reserve-stock waits for StockReleased from inventory, since .+, no deadline/,
    );

    // Retry a failed workflow, from its own address.
    await page.goto(`${base}/ui/#saga=${WORKFLOW}`);
    await page.waitForFunction(
      () => document.querySelector('#detail-status')?.textContent === 'failed',
    );
    expect(await page.isVisible('#act-compensate')).toBe(false);
    await page.click('#act-retry');
    await page.fill('#confirm-reason', 'payment service fixed');
    await page.click('#confirm-ok');
    await page.waitForFunction(
      (id) => document.querySelector('#message')?.textContent === `retry requested for ${id}`,
      WORKFLOW,
    );
    const retried = await control.endOffsets(commandsTopic('sagaflow.workflow'));
    expect([...retried.values()].reduce((a, b) => a + b, 0n)).toBe(1n);

    // Replay a dead letter.
    await page.waitForSelector(`tr[data-letter="${deadLetter.id}"]`);
    expect(await page.textContent(`tr[data-letter="${deadLetter.id}"]`)).toContain(
      'no handler for OrderCreated',
    );
    await page.click(`tr[data-letter="${deadLetter.id}"] button.replay`);
    expect(await page.textContent('#confirm-text')).toMatch(
      /^The message goes back to payment-service\.payment/,
    );
    await page.fill('#confirm-reason', 'handler deployed');
    await page.screenshot({ path: path.join(screenshotDir, 'admin-confirm-replay.png') });
    await page.click('#confirm-ok');
    await page.waitForFunction(
      (id) => document.querySelector('#message')?.textContent === `replayed ${id}`,
      deadLetter.id,
    );
    const replayed = await control.endOffsets(replayTopic(deadLetter.group));
    expect([...replayed.values()].reduce((a, b) => a + b, 0n)).toBe(1n);

    // The audit trail lists the three actions, newest first, with who and why.
    await page.waitForFunction(
      () => document.querySelectorAll('#audit li[data-action]').length >= 3,
    );
    const trail = await page.$$eval('#audit li[data-action]', (items) =>
      items.map((li) => li.textContent?.replace(/^.+? · /, '')),
    );
    expect(trail.filter((t) => t?.includes(' · done · '))).toEqual([
      `ann · dead-letter.replay ${deadLetter.id} · done · "handler deployed"`,
      `ann · saga.retry ${WORKFLOW} · done · "payment service fixed"`,
      'ann · saga.compensate s-stuck · done · "customer called"',
    ]);
    // How far behind the page is, on this page too.
    expect(await page.textContent('#lag')).toMatch(/^Data as of /);
    await page.screenshot({
      path: path.join(screenshotDir, 'admin-audit-trail.png'),
      fullPage: true,
    });
  });

  it('says what a workflow waits for: the replies a branch lists or any reply, a signal, a sleep, a compensation', async () => {
    await mkdir(screenshotDir, { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/ui/`);
    await page.fill('#token', TOKEN);
    await page.click('#login button');
    const awaiting = async (id: string, status: string) => {
      await page.goto(`${base}/ui/#saga=${id}`);
      await page.waitForFunction(
        ([sagaId, expected]) =>
          document.querySelector('#detail')?.getAttribute('data-saga') === sagaId &&
          document.querySelector('#detail-status')?.textContent === expected,
        [id, status],
      );
      const items = await page.$$eval('#detail-awaiting li', (lis) =>
        lis.map((li) => li.textContent),
      );
      const next = await page.$$eval('#timeline g.awaited', (groups) =>
        groups.map((g) => [g.getAttribute('data-awaits'), g.querySelector('text')?.textContent]),
      );
      return { items, next };
    };

    const branches = await awaiting('wf-branches', 'stuck');
    expect(branches.items).toHaveLength(2);
    expect(branches.items[0]).toMatch(
      /^Step hold ∥ reserve-stock waits for StockReserved or StockUnavailable or CommandAccepted or CommandRejected from inventory\.stock, since .+, until .+ \(overdue by \d+ days\)$/,
    );
    expect(branches.items[1]).toMatch(
      /^Step hold ∥ authorize-payment waits for any reply to its command from payment\.account, since .+, until .+ \(overdue by \d+ days\)$/,
    );
    expect(branches.next).toEqual([
      [
        'StockReserved|StockUnavailable|CommandAccepted|CommandRejected',
        'awaits StockReserved | StockUnavailable | CommandAccepted | CommandRejected',
      ],
      ['', 'awaits a reply'],
    ]);
    await page.screenshot({
      path: path.join(screenshotDir, 'admin-workflow-branches.png'),
      fullPage: true,
    });

    const signal = await awaiting('wf-signal', 'running');
    expect(signal.items).toEqual([
      expect.stringMatching(
        /^Step approval waits for the signal 'approval', since .+, no deadline$/,
      ),
    ]);
    expect(signal.next).toEqual([['', "awaits the signal 'approval'"]]);

    const sleep = await awaiting('wf-sleep', 'running');
    expect(sleep.items).toEqual([
      expect.stringMatching(/^Step cool-off sleeps, since .+, until .+$/),
    ]);
    expect(sleep.next).toEqual([['', 'sleeps']]);

    const undo = await awaiting('wf-undo', 'stuck');
    expect(undo.items).toEqual([
      expect.stringMatching(
        /^Compensation of reserve waits for any reply to its compensation from inventory\.stock, since .+, until .+ \(overdue by \d+ days\)$/,
      ),
    ]);
  });

  it('keeps the data behind the token', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/ui/`);
    await page.fill('#token', 'wrong-token');
    await page.click('#login button');
    await page.waitForFunction(
      () => document.querySelector('#message')?.textContent === 'the token is not valid',
    );
    expect(await page.$$('#sagas tbody tr')).toHaveLength(0);
  });
});
