import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { freePort } from '@sagaflow/reference';
import { tsxChild, type Child, type SystemPlace } from '../children.js';
import type { BenchOrder, LoadTarget } from '../load.js';
import { followSystem, type SagaOutcomes } from '../outcomes.js';
import { baselineRoles, baselineTopics, type BaselineRole } from './names.js';

const participantModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'participant.ts');

/** The hand-written baseline, running: one process per participant. */
export interface Baseline extends LoadTarget {
  readonly outcomes: SagaOutcomes;
  /** The running participants (a killed one is replaced). */
  readonly children: readonly Child[];
  /** SIGKILLs a participant and starts it again after 250 ms (as sagaflow's supervisor does). */
  kill(role: BaselineRole): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the baseline on the given servers under a fresh namespace: creates its topics, seeds
 * stock and credit, starts the four participants and follows the sagas' ends on the topics.
 */
export async function startBaseline(
  options: SystemPlace & {
    readonly stock: Readonly<Record<string, number>>;
    readonly credit: Readonly<Record<string, number>>;
  },
): Promise<Baseline> {
  const namespace = `b${randomBytes(5).toString('hex')}`;
  const topics = baselineTopics(namespace);
  const kafka = new Kafka({
    brokers: [...options.kafkaBrokers],
    clientId: namespace,
    logLevel: logLevel.ERROR,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.values(topics).map((topic) => ({
        topic,
        numPartitions: options.partitions,
      })),
    });
  } finally {
    await admin.disconnect();
  }
  const mongo = new MongoClient(options.mongodbUrl);
  try {
    const db = mongo.db(`${namespace}-baseline`);
    await db.collection('stock').insertMany(
      Object.entries(options.stock).map(([sku, available]) => ({
        _id: sku as never,
        available,
        reserved: 0,
        holds: {},
      })),
    );
    await db.collection('customers').insertMany(
      Object.entries(options.credit).map(([customerId, creditLimit]) => ({
        _id: customerId as never,
        creditLimit,
        reserved: 0,
        orders: {},
      })),
    );
  } finally {
    await mongo.close();
  }
  const port = await freePort();
  const logDir = path.join(options.logRoot, namespace);
  const participant = (role: BaselineRole) =>
    tsxChild({
      name: role,
      module: participantModule,
      args: [role],
      logDir,
      env: {
        BASELINE_BROKERS: options.kafkaBrokers.join(','),
        BASELINE_MONGODB_URL: options.mongodbUrl,
        BASELINE_NAMESPACE: namespace,
        BASELINE_PORT: String(port),
      },
    });
  const children = baselineRoles.map(participant);
  const { outcomes, stop } = await followSystem({
    children,
    ready: (c) => `baseline ${c.name} ready`,
    description: 'the baseline participants starting',
    logDir,
    kafkaBrokers: options.kafkaBrokers,
    groupId: `${namespace}-bench`,
    topics: [topics.shipments, topics.orders, topics.reservations, topics.payments],
  });
  const url = `http://127.0.0.1:${port}/orders`;
  return {
    children,
    outcomes,
    kill: async (role) => {
      const index = baselineRoles.indexOf(role);
      const victim = children[index]!;
      victim.process.kill('SIGKILL');
      await victim.exited;
      await new Promise((resolve) => setTimeout(resolve, 250));
      children[index] = participant(role);
    },
    place: async (order: BenchOrder) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(order),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status !== 202) throw new Error(`POST /orders answered ${response.status}`);
      return ((await response.json()) as { orderId: string }).orderId;
    },
    stop,
  };
}
