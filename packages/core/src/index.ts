/**
 * sagaflow core: entities decide on commands and commit their new state together with the events
 * to publish, in one atomic write through the {@link EntityStore} port. No Kafka or MongoDB
 * client here: adapters implement the ports.
 *
 * @example
 * ```ts
 * import { defineEntity, EntityService, reject } from '@sagaflow/core';
 * import { MemoryEntityStore } from '@sagaflow/testing';
 *
 * const stock = defineEntity<{ available: number }, { Reserve: { quantity: number } }, { StockReserved: { quantity: number } }>({
 *   type: 'inventory.stock',
 *   initialState: () => ({ available: 10 }),
 *   commands: {
 *     Reserve: (state, { quantity }) =>
 *       quantity > state.available ? reject('not enough stock') : [{ type: 'StockReserved', payload: { quantity } }],
 *   },
 *   evolve: (state, event) => ({ available: state.available - event.payload.quantity }),
 * });
 * const service = new EntityService({ store: new MemoryEntityStore(), service: 'inventory' });
 * await service.execute(stock, 'sku-1', 'Reserve', { quantity: 2 }, { causationKey: 'order-42' });
 * ```
 * @module
 */
export type { AuditEntry, AuditLog } from './audit-log.js';
export { backoffDelay, defaultBackoff } from './backoff.js';
export {
  COMMAND_ACCEPTED,
  COMMAND_REJECTED,
  commandHeaderNames,
  commandMessage,
  readCommandEnvelope,
} from './command-message.js';
export type { CommandEnvelope } from './command-message.js';
export type { BackoffPolicy } from './backoff.js';
export type {
  Commit,
  EntitySnapshot,
  EventMetadata,
  MessageSource,
  OutboxEvent,
} from './commit.js';
export { CommitCompactor } from './commit-compactor.js';
export type { CommitCompactorOptions } from './commit-compactor.js';
export { commandHandler, defineEntity, reject, Rejection, StateChange } from './entity.js';
export type {
  CommandContext,
  CommandRoute,
  Decision,
  EntityDefinition,
  EventOf,
  OutboxCommand,
} from './entity.js';
export type { DurableTimer, TimerStore } from './timer-store.js';
export { EntityService } from './entity-service.js';
export type { CommandOrigin, CommandResult, EntityServiceOptions } from './entity-service.js';
export type {
  AppendOutcome,
  CommitRef,
  EntityStore,
  OutboxBacklog,
  RelayBatch,
} from './entity-store.js';
export { backgroundReporter, noMetrics, silentLogger } from './instrumentation.js';
export type {
  CommandOutcome,
  MessageOutcome,
  SagaflowLogger,
  SagaflowMetrics,
} from './instrumentation.js';
export {
  contextOf,
  inSpan,
  linkTo,
  producedSpan,
  spanAttributes,
  SpanKind,
  traceparentOf,
} from './telemetry.js';
export { invalidArgument, isSagaflowError, SagaflowError } from './errors.js';
export type { MessageOrigin, SagaflowErrorCode, SagaflowErrorContext } from './errors.js';
export { commandsTopic, eventMessage, eventsTopic, headerNames, readEnvelope } from './envelope.js';
export type { BusMessage, EventEnvelope, SchemaRef } from './envelope.js';
export type { EncodedPayload, EventSerde } from './event-serde.js';
export { DeadLetterIndexer, deadLetterRecordOf } from './dead-letters.js';
export type { DeadLetterRecord, DeadLetterStore } from './dead-letters.js';
export { deterministicUuid, eventIdOf, newId } from './ids.js';
export { childTraceparent, traceIdOf } from './trace-context.js';
export type {
  MessagePublisher,
  MessageSubscriber,
  OffsetReader,
  Pingable,
  ReceivedMessage,
  RelayCheckpoint,
  SubscribeOptions,
  Subscription,
  TopicAdmin,
} from './message-bus.js';
export { OutboxRelay } from './outbox-relay.js';
export { pageCursor, parsePageCursor } from './page-cursor.js';
export { COMPENSATION_REQUESTED, defineSaga, eventRoles } from './saga.js';
export { controlSchemasDir, sagaControl, sagaControlTopic } from './saga-control.js';
export type { CompletedStep, SagaCompensationRequested } from './saga-control.js';
export type { EventRole, SagaDefinition, SagaStep } from './saga.js';
export { deriveSagaView, isEnded, sagaTypeOf } from './saga-view.js';
export type {
  CompensationRequest,
  SagaStatus,
  SagaView,
  StepView,
  TimelineEntry,
} from './saga-view.js';
export { SagaTracker } from './saga-tracker.js';
export type { SagaMetrics, SagaTrackerOptions } from './saga-tracker.js';
export type { RecordedEntry, SagaCount, SagaQuery, SagaViewStore } from './saga-view-store.js';
export { consumerLag, SagaflowService } from './sagaflow-service.js';
export type {
  AnyEntityDefinition,
  Readiness,
  SagaflowServiceOptions,
  ServiceBus,
  ServiceStats,
} from './sagaflow-service.js';
export type { OutboxRelayOptions } from './outbox-relay.js';
export {
  commandGroupId,
  deadLetterHeaders,
  deadLetterTopic,
  defineCommandEndpoint,
  defineProcessor,
  messageLogFields,
  processorGroupId,
  ProcessorRuntime,
  serviceDeadLetterTopics,
} from './processor.js';
export type {
  AnyProcessorDefinition,
  CommandEndpoint,
  EventHandler,
  EventPayloads,
  ExecuteOptions,
  ProcessorContext,
  ProcessorDefinition,
  ProcessorRuntimeOptions,
  ReceivedEvent,
} from './processor.js';
export {
  COMPLETE,
  complete,
  defaultRetryPolicy,
  defineWorkflow,
  done,
  goTo,
  parseWorkflowCommandId,
  refuse,
  stepEntityTypes,
  workflowCommandId,
  workflowIdOf,
} from './workflow.js';
export type {
  AnyWorkflowDefinition,
  RetryPolicy,
  StepContext,
  StepOutcome,
  WorkflowCommand,
  WorkflowDefinition,
  WorkflowReply,
  WorkflowStep,
} from './workflow.js';
export { workflowControlCommands, workflowEntity, workflowEventTypes } from './workflow-entity.js';
export type {
  WorkflowCommands,
  WorkflowEvents,
  WorkflowOutcomeFields,
  WorkflowPosition,
  WorkflowState,
  WorkflowStatus,
  WorkflowTimerState,
} from './workflow-entity.js';
export { Orchestrator } from './orchestrator.js';
export type {
  OperatorRequest,
  OrchestratorFaultPoint,
  OrchestratorOptions,
  WorkflowStart,
  WorkflowTrigger,
} from './orchestrator.js';
export {
  deriveWorkflowView,
  isWorkflowEvent,
  isWorkflowTimeline,
  WORKFLOW_STUCK_GRACE_MS,
  workflowTopics,
} from './workflow-view.js';
export { WorkflowControl } from './workflow-control.js';
export type { WorkflowControlOptions, WorkflowTarget } from './workflow-control.js';
