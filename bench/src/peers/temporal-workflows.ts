/**
 * The peer workflows on Temporal (bundled by the worker, run in its deterministic sandbox): the
 * order workflow (each of its four steps one activity, one durable state change in PostgreSQL; a
 * refused payment releases the stock and rejects the order) and the N-step workflow of growth by
 * saga length. Imports nothing but the workflow API and types.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { OrderTables } from './order-tables.js';
import type { WorkflowInput } from './workflow-input.js';

/** The activities: the order tables' steps. */
export type PeerActivities = Pick<
  OrderTables,
  'hold' | 'unhold' | 'authorize' | 'decide' | 'schedule' | 'record'
>;

const step = proxyActivities<PeerActivities>({ startToCloseTimeout: '30 seconds' });

export async function orderFulfillment(input: WorkflowInput): Promise<'completed' | 'compensated'> {
  if (!(await step.hold(input))) {
    await step.decide(input, 'REJECTED');
    return 'compensated';
  }
  if (!(await step.authorize(input))) {
    await step.unhold(input);
    await step.decide(input, 'REJECTED');
    return 'compensated';
  }
  await step.decide(input, 'APPROVED');
  await step.schedule(input);
  return 'completed';
}

/** Growth by saga length: `count` steps, each recording itself in the workflow's ledger row. */
export async function steps(input: { key: string; count: number }): Promise<'completed'> {
  for (let n = 0; n < input.count; n++) await step.record(input.key, n);
  return 'completed';
}
