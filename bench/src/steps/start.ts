import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsTopic, newId } from '@sagaflow/core';
import { freePort } from '@sagaflow/reference';
import { sendJson, tsxChild, type Child, type SystemPlace } from '../children.js';
import type { LoadTarget } from '../load.js';
import { followSystem, type SagaOutcomes } from '../outcomes.js';
import { stepsDomain, stepsWorkflow } from './domain.js';

const appModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app.ts');

/** The N-step workflow system running: its participant and its orchestrator. */
export interface StepsSystem {
  readonly children: readonly Child[];
  /** Its workflow and ledger events, for the end of each workflow and the time of each hop. */
  readonly outcomes: SagaOutcomes;
  /** Each process's base URL (its `/metrics` counts round trips and CPU). */
  readonly urls: Readonly<Record<'participant' | 'orchestrator', string>>;
  /** Starts workflows of `steps` steps; a workflow's id is its saga id. */
  target(steps: number): LoadTarget;
  stop(): Promise<void>;
}

/**
 * Starts the two processes of the N-step workflow system on fresh names (topics, database), and
 * follows its workflow topic: a workflow has ended when its `WorkflowCompleted` is published.
 */
export async function startSteps(
  options: SystemPlace & { readonly schemaRegistryUrl: string },
): Promise<StepsSystem> {
  const namespace = `bench-${newId().slice(0, 8).toLowerCase()}`;
  const { names } = stepsDomain(namespace);
  const logDir = path.join(options.logRoot, namespace);
  const port = await freePort();
  const child = (role: 'participant' | 'orchestrator', childPort: number) =>
    tsxChild({
      name: role,
      module: appModule,
      logDir,
      env: {
        STEPS_ROLE: role,
        STEPS_NAMESPACE: namespace,
        STEPS_PARTITIONS: String(options.partitions),
        PORT: String(childPort),
        KAFKA_BROKERS: options.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: options.schemaRegistryUrl,
        MONGODB_URL: options.mongodbUrl,
      },
    });
  const participantPort = await freePort();
  const children = [child('participant', participantPort), child('orchestrator', port)];
  const { outcomes, stop } = await followSystem({
    children,
    ready: (c) => `-steps-${c.name} ready`,
    description: 'the N-step workflow processes starting',
    logDir,
    kafkaBrokers: options.kafkaBrokers,
    groupId: `${namespace}-bench`,
    topics: [eventsTopic(names.workflow), eventsTopic(names.ledger)],
    // No step is ever refused: a workflow that compensates or fails does not count as ended.
    endings: { WorkflowCompleted: 'completed' },
  });
  let n = 0;
  return {
    children,
    outcomes,
    urls: {
      participant: `http://127.0.0.1:${participantPort}`,
      orchestrator: `http://127.0.0.1:${port}`,
    },
    target: (steps) => ({
      outcomes,
      place: async () => {
        n += 1;
        const started = (await sendJson(
          `http://127.0.0.1:${port}/workflows/${stepsWorkflow(steps)}`,
          {},
          { headers: { 'idempotency-key': `w-${n}` } },
        )) as { workflowId: string };
        return started.workflowId;
      },
    }),
    stop,
  };
}
