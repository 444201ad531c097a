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
export type { AuditEntry, AuditLog, AuditQuery } from './saga/audit-log.js';
export { backoffDelay, defaultBackoff } from './backoff.js';
export {
  COMMAND_ACCEPTED,
  COMMAND_REJECTED,
  commandHeaderNames,
  commandMessage,
  readCommandEnvelope,
} from './entity/command-message.js';
export type { CommandEnvelope } from './entity/command-message.js';
export type { BackoffPolicy } from './backoff.js';
export type {
  Commit,
  CommitRecord,
  EntitySnapshot,
  EventMetadata,
  MessageSource,
  OutboxEvent,
  StateReplay,
} from './entity/commit.js';
export { CommitCompactor } from './entity/commit-compactor.js';
export type { CommitCompactorOptions } from './entity/commit-compactor.js';
export {
  commandHandler,
  defineEntity,
  reject,
  Rejection,
  replayOf,
  StateChange,
} from './entity/entity.js';
export type {
  CommandContext,
  CommandRoute,
  Decision,
  EntityDefinition,
  EventOf,
  OutboxCommand,
} from './entity/entity.js';
export type { DurableTimer, TimerStore } from './workflow/timer-store.js';
export { EntityService } from './entity/entity-service.js';
export type {
  CommandOrigin,
  CommandResult,
  EntityServiceOptions,
} from './entity/entity-service.js';
export type {
  AppendOutcome,
  CommitRef,
  EntityStore,
  OutboxBacklog,
  RelayBatch,
} from './entity/entity-store.js';
export { backgroundReporter, noMetrics, silentLogger } from './telemetry/instrumentation.js';
export type {
  CommandOutcome,
  MessageOutcome,
  RoundTripListener,
  RoundTripSystem,
  SagaflowLogger,
  SagaflowMetrics,
} from './telemetry/instrumentation.js';
export {
  contextOf,
  inSpan,
  linkTo,
  producedSpan,
  spanAttributes,
  SpanKind,
  traceparentOf,
} from './telemetry/telemetry.js';
export { invalidArgument, isSagaflowError, SagaflowError } from './errors.js';
export type { MessageOrigin, SagaflowErrorCode, SagaflowErrorContext } from './errors.js';
export {
  commandsTopic,
  eventMessage,
  eventsTopic,
  headerNames,
  readEnvelope,
} from './messaging/envelope.js';
export type { BusMessage, EventEnvelope, SchemaRef } from './messaging/envelope.js';
export type { EncodedPayload, EventSerde } from './messaging/event-serde.js';
export { DeadLetterIndexer, deadLetterRecordOf } from './processor/dead-letters.js';
export type { DeadLetterRecord, DeadLetterStore } from './processor/dead-letters.js';
export { deterministicUuid, eventIdOf, newId } from './ids.js';
export { childTraceparent, traceIdOf } from './telemetry/trace-context.js';
export type {
  MessagePublisher,
  MessageSubscriber,
  OffsetReader,
  Pingable,
  PublishOptions,
  ReceivedMessage,
  RelayCheckpoint,
  SubscribeOptions,
  Subscription,
  TopicAdmin,
} from './messaging/message-bus.js';
export { commitDeadLetterKind, OutboxRelay } from './messaging/outbox-relay.js';
export { ShardedRelay } from './messaging/sharded-relay.js';
export type { ShardedRelayOptions } from './messaging/sharded-relay.js';
export { MAX_SHARDS, checkShardCount, inShard, shardOf, shardRelayId } from './messaging/shards.js';
export type { ClaimShardsOptions, Shard, ShardClaim, ShardClaims } from './messaging/shards.js';
export { pageCursor, parsePageCursor } from './page-cursor.js';
export { COMPENSATION_REQUESTED, defineSaga, eventRoles } from './saga/saga.js';
export {
  compensationCausationKey,
  controlSchemasDir,
  sagaControl,
  sagaControlTopic,
} from './saga/saga-control.js';
export type { CompletedStep, SagaCompensationRequested } from './saga/saga-control.js';
export type { EventRole, SagaDefinition, SagaStep } from './saga/saga.js';
export { awaitedOf, deriveSagaView, isEnded, sagaTypeOf } from './saga/saga-view.js';
export type {
  AwaitedAnswer,
  AwaitingView,
  CompensationRequest,
  SagaStatus,
  SagaView,
  StepView,
  TimelineEntry,
} from './saga/saga-view.js';
export { SagaTracker } from './saga/saga-tracker.js';
export type { SagaMetrics, SagaTrackerOptions } from './saga/saga-tracker.js';
export type {
  RecordedEntries,
  RecordedEntry,
  SagaCount,
  SagaEntry,
  SagaQuery,
  SagaViewStore,
} from './saga/saga-view-store.js';
export { consumerLag, SagaflowService } from './service/sagaflow-service.js';
export type {
  AnyEntityDefinition,
  Readiness,
  SagaflowServiceOptions,
  ServiceBus,
  ServiceStats,
} from './service/sagaflow-service.js';
export type { OutboxRelayOptions } from './messaging/outbox-relay.js';
export {
  commandGroupId,
  deadLetterHeaders,
  deadLetterTopic,
  defineCommandEndpoint,
  defineProcessor,
  groupOfDeadLetterTopic,
  messageLogFields,
  processorGroupId,
  ProcessorRuntime,
  relayDeadLetterTopic,
  replayTopic,
  serviceDeadLetterTopics,
  serviceReplayTopics,
} from './processor/processor.js';
export { commandBatcher } from './processor/command-batcher.js';
export {
  SAGA_MESSAGE_RESUMED,
  SAGA_MESSAGE_WAITING,
  sagaNoticeEntityType,
  sagaNoticeTopic,
  sagaNoticeTypes,
  waitingOf,
} from './saga/saga-notice.js';
export type { SagaMessageResumed, SagaMessageWaiting, SagaWaiting } from './saga/saga-notice.js';
export type { CommandBatcherOptions } from './processor/command-batcher.js';
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
} from './processor/processor.js';
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
  isSleepStep,
  SLEEP_MAX_MS,
} from './workflow/workflow.js';
export type {
  AnyWorkflowDefinition,
  RetryPolicy,
  StepContext,
  StepViews,
  SleepContext,
  StepOutcome,
  WorkflowCommand,
  WorkflowDefinition,
  WorkflowReply,
  WorkflowStep,
} from './workflow/workflow.js';
export {
  SIGNALS_KEPT_MAX,
  workflowControlCommands,
  workflowEntity,
  workflowEventTypes,
} from './workflow/workflow-entity.js';
export type {
  WorkflowCommands,
  WorkflowEvents,
  WorkflowOutcomeFields,
  WorkflowPosition,
  WorkflowState,
  WorkflowStatus,
  WorkflowTimerState,
} from './workflow/workflow-entity.js';
export { Orchestrator } from './workflow/orchestrator.js';
export type {
  OperatorRequest,
  OrchestratorFaultPoint,
  OrchestratorOptions,
  SignalSent,
  WorkflowStart,
  WorkflowTrigger,
} from './workflow/orchestrator.js';
export {
  deriveWorkflowView,
  isWorkflowEvent,
  isWorkflowTimeline,
  WORKFLOW_START_GRACE_MS,
  WORKFLOW_STUCK_GRACE_MS,
  workflowTopics,
} from './workflow/workflow-view.js';
export { WorkflowControl } from './workflow/workflow-control.js';
export type { WorkflowControlOptions, WorkflowTarget } from './workflow/workflow-control.js';
export { defineView, VIEW_FIELDS_MAX, viewVersionOf } from './view/view.js';
export type { AnyViewDefinition, ViewDefinition, ViewFieldType, ViewValue } from './view/view.js';
export {
  checkViewQuery,
  VIEW_QUERY_LIMIT_MAX,
  VIEW_RECENT_MAX,
  viewCursor,
  viewFieldsOf,
} from './view/view-store.js';
export type {
  CheckedViewQuery,
  ViewCondition,
  ViewPage,
  ViewQuery,
  ViewRange,
  ViewRecord,
  ViewStore,
  ViewTable,
} from './view/view-store.js';
export { ViewProjector, viewTableOf } from './view/view-projector.js';
export { viewProcessorName, ViewRuntime } from './view/view-runtime.js';
export type { ViewReader, ViewReadOptions, ViewRuntimeOptions } from './view/view-runtime.js';
