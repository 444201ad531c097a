import { workflowRoutes } from '@sagaflow/admin';
import { Orchestrator } from '@sagaflow/core';
import { watchService } from '@sagaflow/observability';
import {
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
import { readCreditOver } from './credit-reader.js';

/** The orchestrator's configuration: the process's, and where the payment service answers. */
export interface OrchestratorConfig extends ProcessConfig {
  /** Where the payment service answers (the workflow reads the credit view there). */
  readonly paymentUrl: string;
}

/** Where the payment service answers: `PAYMENT_URL`, or its default address. */
export const paymentUrlFrom = (env: NodeJS.ProcessEnv): string =>
  env['PAYMENT_URL'] ?? `http://127.0.0.1:${defaultPorts.payment}`;

/** Reads the orchestrator's configuration: the process's, and `PAYMENT_URL`. */
export const loadOrchestratorConfig = (env: NodeJS.ProcessEnv): OrchestratorConfig => ({
  ...loadProcessConfig({ defaultPort: defaultPorts.orchestrator, env }),
  paymentUrl: paymentUrlFrom(env),
});

/**
 * The orchestrator service: runs the `order-fulfillment` workflow of every order placed in
 * orchestration mode (its `OrderCreated` starts one), step by step over the participants'
 * command topics, with durable state and timers (`orchestrator.workflow`). Routes: the workflow
 * API (`POST /workflows/:type`, `GET /workflows/:id`, retry and cancel), behind the admin token.
 */
export async function buildOrchestratorService(
  config: OrchestratorConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions & {
    /** Reads a customer's credit. @default `GET /customers/:id` at `config.paymentUrl` */
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
  const readCredit =
    options.readCredit ?? ((customerId: string) => readCreditOver(config.paymentUrl, customerId));
  const orchestrator = new Orchestrator({
    name,
    store: ports.store,
    timers: ports.timers,
    bus: ports.bus,
    serde: ports.serde,
    workflows: [orderWorkflow(names, { readCredit })],
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
