import { readEnvelope } from '@sagaflow/core';
import { mixedBatch, placeAll, seed } from '@sagaflow/reference';
import { testEnv, waitFor } from '@sagaflow/testing';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOwnKafkaCluster, type OwnKafkaCluster } from '../fixtures/own-server.js';
import { settleOrders } from '../fixtures/pending-orders.js';
import {
  startReferenceProcesses,
  type ReferenceProcesses,
} from '../fixtures/reference-processes.js';

const ORDERS = 120;
const BROKERS = 3;

/*
 * A Kafka cluster of three brokers of this test's own (topics with three replicas, two in sync):
 * the broker leading the busiest partitions dies by SIGKILL while orders of both styles flow, and
 * comes back. Every saga ends, nothing is lost or applied twice, and each entity's events keep
 * their order.
 */
let cluster: OwnKafkaCluster | undefined;
let system: ReferenceProcesses | undefined;
const log: string[] = [];
const note = (line: string) => log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);

beforeAll(async () => {
  cluster = await startOwnKafkaCluster('brokers', BROKERS);
  const env = testEnv();
  system = await startReferenceProcesses(
    {
      kafkaBrokers: cluster.brokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      mongodbUrl: env.mongodbUrl,
    },
    { onEvent: note },
  );
}, 300_000);

afterAll(async () => {
  await system?.stop();
  await cluster?.remove();
  if (log.length > 0) console.log(`broker failover log:\n  ${log.join('\n  ')}`);
}, 120_000);

/**
 * The system's topics (its namespace's; only its events topics with `eventsOnly`), with each
 * partition's leader, replicas and end offset (0 without `withEnds`).
 */
async function partitionsOf(
  admin: Admin,
  namespace: string,
  options: { readonly eventsOnly?: boolean; readonly withEnds?: boolean } = {},
) {
  const topics = (await admin.listTopics()).filter(
    (t) => t.startsWith(`${namespace}.`) && (options.eventsOnly !== true || t.endsWith('.events')),
  );
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  const rows: {
    topic: string;
    partition: number;
    leader: number;
    replicas: number;
    end: number;
  }[] = [];
  for (const { name, partitions } of metadata) {
    const ends = options.withEnds === true ? await admin.fetchTopicOffsets(name) : [];
    for (const p of partitions) {
      const end = Number(ends.find((e) => e.partition === p.partitionId)?.high ?? 0);
      rows.push({
        topic: name,
        partition: p.partitionId,
        leader: p.leader,
        replicas: p.replicas.length,
        end,
      });
    }
  }
  return rows;
}

/**
 * Every event of the system's events topics, as a read-committed consumer sees them, once their
 * count holds still: by entity, in the order of their partition.
 */
async function committedEvents(kafka: Kafka, namespace: string) {
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter(
    (t) => t.startsWith(`${namespace}.`) && t.endsWith('.events'),
  );
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `${namespace}-failover-check` });
  const byEntity = new Map<string, { eventId: string; version: number; at: string }[]>();
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]),
        );
        const envelope = readEnvelope(headers);
        const key = `${envelope.entityType}/${envelope.entityId}`;
        const list = byEntity.get(key) ?? [];
        list.push({
          eventId: envelope.eventId,
          version: envelope.version,
          at: `${topic}/${partition}@${message.offset}`,
        });
        byEntity.set(key, list);
        seen += 1;
        return Promise.resolve();
      },
    });
    let last = -1;
    let stillSince = Date.now();
    await waitFor(
      () => {
        if (seen !== last) {
          last = seen;
          stillSince = Date.now();
        }
        return seen > 0 && Date.now() - stillSince > 5_000;
      },
      { timeoutMs: 120_000, intervalMs: 500, description: 'the events read to their end' },
    );
  } finally {
    await consumer.disconnect();
  }
  return byEntity;
}

it(`settles ${ORDERS} orders of both styles while the broker leading the busiest partitions of a ${BROKERS}-broker cluster is killed and restarted`, async () => {
  const sys = system!;
  const kafka = new Kafka({
    clientId: 'failover-check',
    brokers: [...cluster!.brokers],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const batch = mixedBatch(ORDERS, { seed: 7, prefix: 'brk-' });
    await seed(sys.client, batch.starting);
    // Every topic the services made has three replicas.
    const before = await partitionsOf(admin, sys.namespace);
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((p) => p.replicas !== BROKERS)).toEqual([]);
    let placed = 0;
    const placing = placeAll(sys.client, batch.orders, {
      keyPrefix: `brk-${sys.namespace}`,
      concurrency: 4,
      onPlaced: (n) => {
        placed = n;
      },
    });
    await waitFor(() => placed >= 15, {
      timeoutMs: 120_000,
      intervalMs: 100,
      description: '15 orders placed',
    });
    // The broker whose events partitions have taken the most messages (the most partitions, where
    // the ends do not tell them apart).
    const load = new Map<number, number>();
    for (const p of await partitionsOf(admin, sys.namespace, {
      eventsOnly: true,
      withEnds: true,
    })) {
      load.set(p.leader, (load.get(p.leader) ?? 0) + 1 + 1000 * p.end);
    }
    const [busiest] = [...load].sort((a, b) => b[1] - a[1])[0]!;
    const node = cluster!.nodeName(busiest);
    note(
      `SIGKILL broker ${busiest} (${node}); messages led by broker: ${JSON.stringify([...load])}; ${placed} orders placed`,
    );
    await cluster!.kill(node);
    // Down long enough for the controllers to move its partitions' leadership.
    await waitFor(
      async () => (await partitionsOf(admin, sys.namespace)).every((p) => p.leader !== busiest),
      { timeoutMs: 60_000, intervalMs: 500, description: `no partition led by broker ${busiest}` },
    );
    note(`leadership moved off broker ${busiest}; ${placed} orders placed`);
    await cluster!.start(node);
    note(`broker ${busiest} up again; ${placed} orders placed`);
    const lastFault = Date.now();
    const ids = await placing;
    const { quiet, violations } = await settleOrders(sys, batch.starting, ids, {
      mongodbUrl: testEnv().mongodbUrl,
      since: { at: lastFault, what: 'the broker came back' },
      note,
    });
    expect(quiet).toBe(true);
    expect(violations).toEqual([]);
    // Each entity's events in the order of their versions. A batch that a relay published again
    // after the broker died under its transaction is in the topic twice (consumers apply each
    // event once, by its causation key: the invariants above hold): counted, not an error.
    const byEntity = await committedEvents(kafka, sys.namespace);
    const disorder: string[] = [];
    const repeated: string[] = [];
    for (const [entity, events] of byEntity) {
      const first = new Map<string, string>();
      let latest = 0;
      for (const event of events) {
        const earlier = first.get(event.eventId);
        if (earlier !== undefined) {
          repeated.push(`${entity} ${event.eventId} (${earlier}, again at ${event.at})`);
          continue;
        }
        first.set(event.eventId, event.at);
        if (event.version < latest) {
          disorder.push(`${entity}: version ${event.version} (${event.at}) after ${latest}`);
        }
        latest = Math.max(latest, event.version);
      }
    }
    note(
      `${byEntity.size} entities' events read back; ${repeated.length} event(s) in a topic twice${repeated.length === 0 ? '' : `, e.g. ${repeated.slice(0, 3).join('; ')}`}`,
    );
    expect(byEntity.size).toBeGreaterThan(ORDERS);
    expect(disorder).toEqual([]);
  } finally {
    await admin.disconnect();
  }
}, 900_000);
