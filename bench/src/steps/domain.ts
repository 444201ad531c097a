/**
 * The benchmark's N-step workflow on sagaflow, for growth by saga length: every step commands
 * the workflow's own ledger entity to record it (one durable state change and one event per
 * step), so each step costs a command out, a commit and a reply back, and nothing else.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  controlSchemasDir,
  defineCommandEndpoint,
  defineEntity,
  defineWorkflow,
} from '@sagaflow/core';

/** Lengths the benchmark runs. */
export const stepCounts = [4, 8, 16] as const;

/** The workflow type of a length. */
export const stepsWorkflow = (steps: number) => `steps-${steps}`;

export const stepsSchemaDirs = [
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas'),
  controlSchemasDir,
];

/** Names of one benchmark system: everything under its namespace. */
export function stepsNames(namespace: string) {
  return {
    ledger: `${namespace}.steps.ledger`,
    workflow: `${namespace}.steps.workflow`,
    service: (role: 'participant' | 'orchestrator') => `${namespace}-steps-${role}`,
    database: `${namespace.replaceAll('-', '_')}_steps`,
  };
}

export interface LedgerState {
  /** Steps recorded, 0 to N: step k is recorded once `recorded > k`. */
  readonly recorded: number;
}

/** The ledger, its command endpoint and the workflows of every length. */
export function stepsDomain(namespace: string) {
  const names = stepsNames(namespace);
  const ledger = defineEntity<
    LedgerState,
    { Record: { step: number } },
    { StepRecorded: { step: number } }
  >({
    type: names.ledger,
    initialState: () => ({ recorded: 0 }),
    commands: {
      // A step recorded already (a redelivered command) changes nothing.
      Record: (state, { step }) =>
        state.recorded > step ? [] : [{ type: 'StepRecorded', payload: { step } }],
    },
    evolve: (_state, event) => ({ recorded: event.payload.step + 1 }),
  });
  const endpoint = defineCommandEndpoint({ entity: ledger, commands: { RecordStep: 'Record' } });
  const workflows = stepCounts.map((count) =>
    defineWorkflow({
      type: stepsWorkflow(count),
      steps: Array.from({ length: count }, (_, step) => ({
        name: `step-${step + 1}`,
        entity: ledger.type,
        command: ({ workflowId }: { workflowId: string }) => ({
          entityId: workflowId,
          type: 'RecordStep',
          payload: { step },
        }),
      })),
    }),
  );
  return { names, ledger, endpoint, workflows };
}
