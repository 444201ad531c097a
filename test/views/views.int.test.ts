import { viewTableOf, type SagaflowService } from '@sagaflow/core';
import { testEnv, uniqueDatabase, waitFor } from '@sagaflow/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { balances, totals, type Balance, type Totals } from '../fixtures/balance-views.js';
import { demoDomain, demoSchemasDir, type AccountState } from '../fixtures/demo-domain.js';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { realService } from '../fixtures/real-service.js';

const closing: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(closing.map((c) => c.close()));
});

/** Every document of a view, by key. */
const documents = async <D>(service: SagaflowService, view: string) =>
  Object.fromEntries(
    (await service.view<D>(view).query({ limit: 1000 })).items.map((i) => [i.key, i.doc]),
  );

describe('Views on Kafka, Apicurio and FerretDB', () => {
  it('apply each event once, from two processes side by side and after every event is delivered again, and a rebuild equals them', async () => {
    const domain = uniqueDomain();
    const { account } = demoDomain(domain);
    const name = `accounts-${domain}`;
    const built = await realService(testEnv(), {
      name,
      database: uniqueDatabase('views'),
      schemasDir: demoSchemasDir,
      entities: [account],
      views: [balances(domain), totals(domain)],
    });
    closing.push(built);
    // Two processes of the service share the views' partitions: the totals document takes the
    // events of all three partitions, from both processes at once.
    const processes = [built.service, built.again()];
    await Promise.all(processes.map((p) => p.start()));
    const deposits = Array.from({ length: 60 }, (_, i) => ({
      account: `acc-${i % 6}`,
      amount: i + 1,
    }));
    await Promise.all(
      processes.map(async (process, p) => {
        for (const [n, { account: id, amount }] of deposits.entries()) {
          if (n % 2 !== p) continue;
          await process.execute(account, id, 'Deposit', { amount }, { causationKey: `d${n}` });
        }
      }),
    );
    const sum = deposits.reduce((total, d) => total + d.amount, 0);
    const totalsTable = viewTableOf(totals(domain));
    await waitFor(
      async () => (await processes[0]!.view<Totals>('totals').get('all'))?.deposits === 60,
      {
        timeoutMs: 30_000,
        description: 'the totals view applied the 60 deposits',
      },
    );
    // One revision per event: none applied twice, none lost to the other process.
    expect(await built.viewStore.get(totalsTable, 'all')).toMatchObject({
      doc: { deposits: 60, amount: sum },
      revision: 60,
    });
    const expected = async () => {
      const balancesOf: Record<string, Balance> = {};
      for (let i = 0; i < 6; i += 1) {
        const id = `acc-${i}`;
        const state = (await built.store.load<AccountState>(account.type, id))!;
        balancesOf[id] = {
          accountId: id,
          balance: state.state.balance,
          deposits: state.version,
          ...(state.state.balance >= 100 ? { tier: 'gold' } : {}),
        };
      }
      return balancesOf;
    };
    const incremental = await waitFor(
      async () => {
        const docs = await documents<Balance>(processes[1]!, 'balances');
        return Object.values(docs).reduce((n, d) => n + d.deposits, 0) === 60 ? docs : undefined;
      },
      { timeoutMs: 30_000, description: 'the balances view applied the 60 deposits' },
    );
    expect(incremental).toEqual(await expected());
    await Promise.all(processes.map((p) => p.stop()));

    // Every event delivered again: the views' groups start over from the first offsets.
    const admin = new Kafka({
      brokers: [...testEnv().kafkaBrokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      for (const view of ['balances', 'totals']) {
        await admin.resetOffsets({
          groupId: `${name}.view.${view}.v1`,
          topic: `${domain}.account.events`,
          earliest: true,
        });
      }
    } finally {
      await admin.disconnect();
    }
    // A restart with a rebuilt version of the balances view (each deposit counted twice) beside
    // the first one.
    const restarted = built.again({
      views: [balances(domain), balances(domain, 2, 2), totals(domain)],
    });
    await restarted.start();
    try {
      const reader = restarted.view<Balance>('balances');
      await waitFor(async () => (await reader.version()) === 2, {
        timeoutMs: 60_000,
        description: 'version 2 of the balances view caught up',
      });
      const doubled = Object.fromEntries(
        Object.entries(await expected()).map(([id, doc]) => {
          const balance = 2 * doc.balance;
          return [id, { ...doc, balance, ...(balance >= 100 ? { tier: 'gold' } : {}) }];
        }),
      );
      expect(await documents<Balance>(restarted, 'balances')).toEqual(doubled);
      // Version 1 saw every event again and applied none of them twice.
      await waitFor(
        async () => {
          const lag = (await restarted.stats()).lag.filter((l) => l.group.endsWith('.v1'));
          return lag.length > 0 && lag.every((l) => l.lag <= 1);
        },
        { timeoutMs: 30_000, description: 'the version 1 groups consumed every event again' },
      );
      expect(await built.viewStore.get(totalsTable, 'all')).toMatchObject({
        doc: { deposits: 60, amount: sum },
        revision: 60,
      });
      expect(await built.viewStore.get(viewTableOf(balances(domain)), 'acc-0')).toMatchObject({
        doc: incremental['acc-0'],
        revision: 10,
      });
    } finally {
      await restarted.stop();
    }
  });
});
