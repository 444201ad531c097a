import { commandsTopic, deadLetterTopic, relayDeadLetterTopic } from '@sagaflow/core';
import type { ReferenceNames, ServiceName } from './names.js';

/** The entity services: each one's processor and the entity types whose commands it takes. */
export const participants = {
  order: { processor: 'orders', commands: ['order'] },
  inventory: { processor: 'inventory', commands: ['reservation'] },
  payment: { processor: 'payment', commands: ['customer'] },
  shipping: { processor: 'shipping', commands: ['shipment'] },
} as const satisfies Partial<
  Record<ServiceName, { processor: string; commands: readonly (keyof ReferenceNames)[] }>
>;

/**
 * The dead-letter topics of every entity service (`<service>.<processor>.dlq`,
 * `<service>.<entity type>.commands.dlq` and the relay's `<service>.relay.dlq`) and the
 * orchestrator's relay: what the admin's dead-letter index reads.
 */
export function referenceDeadLetterTopics(names: ReferenceNames): string[] {
  return [
    ...Object.entries(participants).flatMap(([service, { processor, commands }]) => {
      const name = names.service(service as keyof typeof participants);
      return [
        deadLetterTopic(`${name}.${processor}`),
        ...commands.map((entity) => deadLetterTopic(`${name}.${commandsTopic(names[entity])}`)),
        relayDeadLetterTopic(name),
      ];
    }),
    relayDeadLetterTopic(names.service('orchestrator')),
  ];
}
