import {
  commandBatcher,
  commandsTopic,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  relayDeadLetterTopic,
  viewProcessorName,
  type EntityDefinition,
} from '@sagaflow/core';
import { customerCreditView } from './credit-view.js';
import type { ReferenceNames, ServiceName } from './names.js';
import type { ReferencePayloads, SchemaTypes } from './types.js';

/** The consumer-group processor of the order service's `orders-by-customer` view (version 1). */
const ORDERS_VIEW_PROCESSOR = 'view.orders-by-customer.v1';

/** The entity services: each one's processors and the entity types whose commands it takes. */
export const participants = {
  // The order service's view of each customer's orders is a consumer group of its own.
  order: { processors: ['orders', ORDERS_VIEW_PROCESSOR], commands: ['order'] },
  inventory: { processors: ['inventory', 'settle'], commands: ['reservation'] },
  payment: { processors: ['payment', 'settle'], commands: ['customer'] },
  shipping: { processors: ['shipping'], commands: ['shipment'] },
} as const satisfies Partial<
  Record<
    ServiceName,
    { processors: readonly string[]; commands: readonly (keyof ReferenceNames)[] }
  >
>;

/**
 * How long the settlers gather approvals before they write (one write per entity for all of them):
 * settling is not in any saga's way, so it takes its time and few writes. Each of a fetch's keys
 * waits for its batch, so one process settles up to about 96 approvals a second (32 keys of 3
 * partitions at once); past that the settle group lags, and the states hold a few more open
 * entries meanwhile.
 */
const SETTLE_LINGER_MS = 1000;

/**
 * The processor of a participant that settles approved orders in its entities' state (a SKU's
 * holds, a customer's authorizations): its own consumer group (`<service>.settle`) on the order
 * events, approvals only, in both styles, so that settling never waits in line with the
 * participant's own saga steps. The approvals that arrive together are settled with one `Settle`
 * per entity ({@link commandBatcher}) in the entities `entitiesOf` names for each approval.
 */
export const approvalSettler = <
  S,
  C extends { Settle: { orderIds: readonly string[] } },
  E extends Record<string, object>,
>(
  names: ReferenceNames,
  entity: EntityDefinition<S, C, E>,
  entitiesOf: (approval: SchemaTypes['OrderApproved']) => readonly string[],
) => {
  const settle = commandBatcher(entity, 'Settle', (orderIds: readonly string[]) => ({ orderIds }), {
    keyOf: (orderId) => orderId,
    lingerMs: SETTLE_LINGER_MS,
  });
  return defineProcessor<ReferencePayloads>({
    name: 'settle',
    topics: [eventsTopic(names.order)],
    filter: (e) => e.type === 'OrderApproved',
    handlers: {
      OrderApproved: async ({ payload }, ctx) => {
        await Promise.all(entitiesOf(payload).map((id) => settle(ctx, id, payload.orderId)));
      },
    },
  });
};

/**
 * The dead-letter topics of every entity service (`<service>.<processor>.dlq`,
 * `<service>.<entity type>.commands.dlq` and the relay's `<service>.relay.dlq`), and the
 * orchestrator's relay and credit view: what the admin's dead-letter index reads.
 */
export function referenceDeadLetterTopics(names: ReferenceNames): string[] {
  return [
    ...Object.entries(participants).flatMap(([service, { processors, commands }]) => {
      const name = names.service(service as keyof typeof participants);
      return [
        ...processors.map((processor) => deadLetterTopic(`${name}.${processor}`)),
        ...commands.map((entity) => deadLetterTopic(`${name}.${commandsTopic(names[entity])}`)),
        relayDeadLetterTopic(name),
      ];
    }),
    relayDeadLetterTopic(names.service('orchestrator')),
    deadLetterTopic(
      `${names.service('orchestrator')}.${viewProcessorName(customerCreditView(names))}`,
    ),
  ];
}

/**
 * The views of the reference's services as consumer groups, with the topics they read: what the
 * admin shows the lag of (the order service's `orders-by-customer`, the orchestrator's
 * `customer-credit`).
 */
export function referenceViewGroups(names: ReferenceNames) {
  const credit = customerCreditView(names);
  const order = names.service('order');
  const orchestrator = names.service('orchestrator');
  return [
    {
      service: order,
      name: 'orders-by-customer',
      group: `${order}.${ORDERS_VIEW_PROCESSOR}`,
      topics: [eventsTopic(names.order)],
    },
    {
      service: orchestrator,
      name: credit.name,
      group: `${orchestrator}.${viewProcessorName(credit)}`,
      topics: [...credit.topics],
    },
  ];
}
