/// <reference lib="dom" />
import { access, mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { repoRoot } from '@sagaflow/infra-local';
import {
  commandsTopic,
  controlSchemasDir,
  replayTopic,
  WorkflowControl,
  type SagaView,
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
    await views.writeViews([failedWorkflow]);
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
    expect(rows).toEqual(['s-run', 's-stuck', 's-comp', 's-done', WORKFLOW]);
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
    await page.waitForFunction(() => document.querySelectorAll('#sagas tbody tr').length === 1);
    expect(await page.getAttribute('#sagas tbody tr', 'data-saga')).toBe('s-stuck');

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
