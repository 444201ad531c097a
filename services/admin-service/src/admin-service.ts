import { createAdminApp, type LagReader } from '@sagaflow/admin';
import {
  backgroundReporter,
  compensationCausationKey,
  consumerLag,
  DeadLetterIndexer,
  SagaflowService,
  SagaTracker,
  sagaControl,
  sagaNoticeTopic,
  WorkflowControl,
  workflowTopics,
} from '@sagaflow/core';
import { watchService } from '@sagaflow/observability';
import {
  defaultPorts,
  orderSaga,
  orderWorkflow,
  referenceDeadLetterTopics,
  referenceViewGroups,
  referenceNames,
} from '@sagaflow/reference-contracts';
import {
  badSetting,
  instrumentsOf,
  loadProcessConfig,
  serviceContext,
  type AdapterFactory,
  type ProcessConfig,
  type ServiceBuildOptions,
  type ServiceProcess,
} from '@sagaflow/runtime';
import { collectDefaultMetrics } from 'prom-client';

/** Reads the admin's configuration: the process's, and `ADMIN_TOKEN`, which it requires. */
export function loadAdminConfig(env: NodeJS.ProcessEnv): ProcessConfig {
  const config = loadProcessConfig({ defaultPort: defaultPorts.admin, env });
  if (config.adminToken === undefined) {
    throw badSetting(
      'ADMIN_TOKEN',
      'ADMIN_TOKEN must be set: the admin API answers only with its token',
    );
  }
  return config;
}

/**
 * The admin service: follows every saga of both styles (the tracker reads the services' events
 * and the workflows' outcomes into saga views), indexes every service's dead letters, and serves
 * the admin API and page behind its token: sagas, their timelines, compensate and retry, dead
 * letters and their replay. An operator's compensation request is an event of its own
 * (`SagaCompensationRequested`), which the participants' processors act on.
 */
export async function buildAdminService(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<ServiceProcess> {
  const names = referenceNames(config.namespace);
  const context = await serviceContext(
    names.service('admin'),
    names.database('admin'),
    config,
    adapters,
    options,
  );
  const { name, ports, registry, metrics, onError } = context;
  const tracked = backgroundReporter({
    service: name,
    metrics,
    logger: context.logger,
    onError,
  });
  const saga = orderSaga(names);
  const workflows = workflowTopics(names.workflow, [orderWorkflow(names)]);
  const control = new SagaflowService({
    name,
    store: ports.store,
    bus: ports.bus,
    serde: ports.serde,
    entities: [sagaControl],
    partitions: config.partitions,
    ...instrumentsOf(context),
    // The tracker's too: the saga notice topic (participants create it as well).
    topics: [...saga.topics, ...workflows, sagaNoticeTopic],
  });
  const tracker = new SagaTracker({
    groupId: `${name}.tracker`,
    definitions: [saga],
    workflowTopics: workflows,
    subscriber: ports.bus,
    serde: ports.serde,
    views: ports.views,
    metrics,
    onError: (error) => tracked(error, 'tracker'),
    publishCompensation: async (request) => {
      await control.commands.execute(sagaControl, request.sagaId, 'RequestCompensation', request, {
        sagaId: request.sagaId,
        causationKey: compensationCausationKey(request),
      });
    },
  });
  const deadLetterTopics = referenceDeadLetterTopics(names);
  const indexer =
    ports.deadLetters === undefined
      ? undefined
      : new DeadLetterIndexer({
          subscriber: ports.bus,
          store: ports.deadLetters,
          topics: deadLetterTopics,
          groupId: `${name}.dead-letters`,
        });
  // The lag of the tracker, of the dead-letter index and of the services' views: in the metrics
  // and on the page (GET /lag).
  const readers: LagReader[] = [
    { group: tracker.groupId, topics: tracker.topics(), kind: 'tracker', service: name },
    ...(indexer === undefined
      ? []
      : [
          {
            group: `${name}.dead-letters`,
            topics: deadLetterTopics,
            kind: 'dead-letters',
            service: name,
          },
        ]),
    ...referenceViewGroups(names).map((view) => ({ ...view, kind: 'view' })),
  ];
  // The control service's outbox, and the lag of those readers.
  watchService(registry, async () => {
    const stats = await control.stats();
    return { ...stats, lag: [...stats.lag, ...(await consumerLag(ports.bus, readers))] };
  });
  registry.setDefaultLabels({ service: name });
  collectDefaultMetrics({ register: registry });
  const readiness = () => control.readiness();
  const app = createAdminApp({
    registry,
    views: ports.views,
    audit: ports.audit,
    token: config.adminToken,
    ...(config.operatorTokens === undefined ? {} : { operatorTokens: config.operatorTokens }),
    ...(config.readToken === undefined ? {} : { readToken: config.readToken }),
    requestCompensation: (sagaId, request) => tracker.requestCompensation(sagaId, request),
    readiness,
    lag: { offsets: ports.bus, readers },
    ...(context.liveness === undefined ? {} : { liveness: context.liveness }),
    workflowControl: new WorkflowControl({
      publisher: ports.bus,
      serde: ports.serde,
      service: name,
    }),
    ...(ports.deadLetters === undefined
      ? {}
      : { deadLetters: { store: ports.deadLetters, publisher: ports.bus, serde: ports.serde } }),
  });
  return {
    name,
    app,
    start: async () => {
      await control.start();
      await ports.bus.ensureTopics(deadLetterTopics.map((topic) => ({ topic, partitions: 1 })));
      await tracker.start();
      await indexer?.start();
    },
    stop: async () => {
      await indexer?.stop();
      await tracker.stop();
      await control.stop();
      await ports.close();
    },
    readiness,
  };
}
