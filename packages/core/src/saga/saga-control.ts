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

/**
 * One entity per saga that carries control requests to the participants through the outbox, so
 * that a request is published exactly once even if the requester dies. Its events go to
 * {@link sagaControlTopic}; a participant handles `SagaCompensationRequested` by undoing its steps.
 */
export const sagaControl = defineEntity<
  { compensationRequested: boolean },
  { RequestCompensation: SagaCompensationRequested },
  { SagaCompensationRequested: SagaCompensationRequested }
>({
  type: 'sagaflow.saga-control',
  initialState: () => ({ compensationRequested: false }),
  commands: {
    RequestCompensation: (state, request) =>
      state.compensationRequested ? [] : [{ type: 'SagaCompensationRequested', payload: request }],
  },
  evolve: () => ({ compensationRequested: true }),
});

/** The topic of saga control events. */
export const sagaControlTopic = eventsTopic(sagaControl.type);
