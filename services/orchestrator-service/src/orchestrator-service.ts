import { workflowRoutes } from '@sagaflow/admin';
import { Orchestrator } from '@sagaflow/core';
import { watchService } from '@sagaflow/observability';
import {
  customerCreditView,
  defaultPorts,
  orderWorkflow,
  orderWorkflowTrigger,
  referenceNames,
  type CreditView,
} from '@sagaflow/reference-contracts';
import {
  instrumentsOf,
  loadProcessConfig,
  serviceApp,
  serviceCompaction,
  serviceContext,
  type AdapterFactory,
  type ProcessConfig,
  type ServiceBuildOptions,
  type ServiceProcess,
} from '@sagaflow/runtime';

/** Reads the orchestrator's configuration (the process's own). */
export const loadOrchestratorConfig = (env: NodeJS.ProcessEnv): ProcessConfig =>
  loadProcessConfig({ defaultPort: defaultPorts.orchestrator, env });

/**
 * The orchestrator service: runs the `order-fulfillment` workflow of every order placed in
 * orchestration mode (its `OrderCreated` starts one), step by step over the participants'
 * command topics, with durable state and timers (`orchestrator.workflow`). It keeps a view of
 * the customers' credit from the payment service's events (`customer-credit`), which the
 * workflow's first step reads locally. Routes: the workflow API (`POST /workflows/:type`,
 * `GET /workflows/:id`, retry and cancel), behind the admin token.
 */
export async function buildOrchestratorService(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions & {
    /** Reads a customer's credit. @default the `customer-credit` view */
    readonly readCredit?: (customerId: string) => Promise<CreditView>;
  } = {},
): Promise<ServiceProcess & { readonly orchestrator: Orchestrator }> {
  const names = referenceNames(config.namespace);
  const context = await serviceContext(
    names.service('orchestrator'),
    names.database('orchestrator'),
    config,
    adapters,
    options,
  );
  const { name, ports, registry } = context;
  const orchestrator = new Orchestrator({
    name,
    store: ports.store,
    timers: ports.timers,
    bus: ports.bus,
    serde: ports.serde,
    workflows: [
      orderWorkflow(
        names,
        options.readCredit === undefined ? {} : { readCredit: options.readCredit },
      ),
    ],
    views: [customerCreditView(names)],
    viewStore: ports.viewStore,
    entityType: names.workflow,
    triggers: [orderWorkflowTrigger(names)],
    partitions: config.partitions,
    relay: { shards: config.relayShards },
    compaction: serviceCompaction,
    ...instrumentsOf(context),
  });
  watchService(registry, () => orchestrator.service.stats());
  const readiness = () => orchestrator.readiness();
  const { app } = serviceApp({
    service: name,
    readiness,
    registry,
    ...(context.liveness === undefined ? {} : { liveness: context.liveness }),
    routes: (a) => {
      a.use(
        workflowRoutes(
          orchestrator,
          config.adminToken === undefined ? {} : { token: config.adminToken },
        ),
      );
    },
  });
  return {
    name,
    app,
    orchestrator,
    start: () => orchestrator.start(),
    stop: async () => {
      await orchestrator.stop();
      await ports.close();
    },
    readiness,
  };
}
