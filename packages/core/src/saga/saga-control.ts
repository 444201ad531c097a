import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineEntity } from '../entity/entity.js';
import { eventsTopic } from '../messaging/envelope.js';

/** The schemas of sagaflow's own events; add this folder to every service's schema catalog. */
export const controlSchemasDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../schemas',
);

/** A completed step to undo, with the entity that did it. */
export interface CompletedStep {
  readonly step: string;
  readonly participant: string;
  readonly entityType: string;
  readonly entityId: string;
}

/** Payload of the event that asks participants to compensate a saga. */
export interface SagaCompensationRequested {
  readonly sagaId: string;
  readonly sagaType: string;
  readonly businessKey: string;
  readonly reason: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly steps: readonly CompletedStep[];
}

/** A step of a compensation request as the saga control keeps it: `<step>|<entity type>|<id>`. */
const stepKey = (step: CompletedStep) => `${step.step}|${step.entityType}|${step.entityId}`;

/**
 * One entity per saga that carries control requests to the participants through the outbox, so
 * that a request is published exactly once even if the requester dies. Its events go to
 * {@link sagaControlTopic}; a participant handles `SagaCompensationRequested` by undoing its steps.
 * The first request is published whole; a later one only with the steps no earlier one listed (a
 * step that completed after the request, having been in flight when it was made), or not at all.
 */
export const sagaControl = defineEntity<
  { compensationRequested: boolean; steps?: readonly string[] },
  { RequestCompensation: SagaCompensationRequested },
  { SagaCompensationRequested: SagaCompensationRequested }
>({
  type: 'sagaflow.saga-control',
  initialState: () => ({ compensationRequested: false }),
  commands: {
    RequestCompensation: (state, request) => {
      if (!state.compensationRequested) {
        return [{ type: 'SagaCompensationRequested', payload: request }];
      }
      const requested = new Set(state.steps ?? []);
      const steps = request.steps.filter((s) => !requested.has(stepKey(s)));
      return steps.length === 0
        ? []
        : [{ type: 'SagaCompensationRequested', payload: { ...request, steps } }];
    },
  },
  evolve: (state, event) => ({
    compensationRequested: true,
    steps: [...(state.steps ?? []), ...event.payload.steps.map(stepKey)],
  }),
});

/**
 * The causation key of a compensation request: the same for the same steps, so that a request
 * sent again changes nothing, and another one for a request that lists a step more.
 */
export function compensationCausationKey(request: SagaCompensationRequested): string {
  const steps = request.steps.map(stepKey).sort().join(',');
  return `compensation:${createHash('sha256').update(steps).digest('hex').slice(0, 32)}`;
}

/** The topic of saga control events. */
export const sagaControlTopic = eventsTopic(sagaControl.type);
