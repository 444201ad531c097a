/**
 * What the reference services share, and nothing else: the names of their entity types, topics
 * and databases, the Avro schemas and their types, the choreography saga and the orchestrated
 * workflow, and which processor and command topics each service runs. Each service's entities,
 * processors and routes are its own, in its package.
 *
 * ```ts
 * import { orderSaga, referenceNames } from '@sagaflow/reference-contracts';
 *
 * const names = referenceNames(); // names.reservation === 'inventory.reservation'
 * const saga = orderSaga(names); // what the admin's tracker follows
 * ```
 * @module
 */
export { checkNamespace, referenceNames, serviceNames } from './names.js';
export type { ReferenceNames, ServiceName } from './names.js';
export { CHOREOGRAPHY_SAGA, isWorkflowSaga, orderSaga } from './order-saga.js';
export {
  DEFAULT_APPROVAL_THRESHOLD,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  ORDER_WORKFLOW,
  orderWorkflow,
  orderWorkflowTrigger,
  sagaIdOf,
} from './order-workflow.js';
export type { OrderWorkflowOptions } from './order-workflow.js';
export { CREDIT_VIEW, customerCreditView, readCredit } from './credit-view.js';
export type { CreditView, CustomerCredit } from './credit-view.js';
export {
  approvalSettler,
  participants,
  referenceDeadLetterTopics,
  referenceViewGroups,
} from './participants.js';
export { defaultPorts } from './ports.js';
export { referenceSchemaDirs } from './schemas.js';
export { quantitiesBySku, totalOf } from './types.js';
export type { OrderItem, OrderRequest, ReferencePayloads, SagaMode, SchemaTypes } from './types.js';
