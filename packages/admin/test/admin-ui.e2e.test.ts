/// <reference lib="dom" />
import { access, mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { repoRoot } from '@sagaflow/infra-local';
import { MongoAuditLog } from '@sagaflow/mongodb';
import { testEnv, uniqueDatabase } from '@sagaflow/testing';
import { MongoClient } from 'mongodb';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../src/index.js';
import { busWithBacklog, seedSagas, TOKEN } from './seed.js';

/** Debian's Chromium: never a downloaded browser. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const screenshotDir = path.join(repoRoot, 'test-results');

describe('admin web page in headless Chromium', () => {
  let client: MongoClient;
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    await access(CHROMIUM).catch(() => {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`,
      );
    });
    client = await new MongoClient(testEnv().mongodbUrl).connect();
    const db = client.db(uniqueDatabase('ui'));
    const { views, tracker } = await seedSagas(db);
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
    expect(rows).toEqual(['s-run', 's-stuck', 's-comp', 's-done']);
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
