import { workflowRoutes } from '@sagaflow/admin';
import { Orchestrator, SLEEP_MAX_MS } from '@sagaflow/core';
import { watchService } from '@sagaflow/observability';
import {
  customerCreditView,
  DEFAULT_APPROVAL_THRESHOLD,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  defaultPorts,
  orderWorkflow,
  orderWorkflowTrigger,
  referenceNames,
  type CreditView,
} from '@sagaflow/reference-contracts';
import {
  instrumentsOf,
  loadProcessConfig,
  badSetting,
  serviceApp,
  serviceCompaction,
  serviceContext,
  type AdapterFactory,
  type ProcessConfig,
  type ServiceBuildOptions,
  type ServiceProcess,
} from '@sagaflow/runtime';

/** The orchestrator's configuration: the process's, and when large orders wait for approval. */
export interface OrchestratorConfig extends ProcessConfig {
  /**
   * Orders of at least this total (cents) wait for a person's approval (`APPROVAL_THRESHOLD`).
   * @default 1000000
   */
  readonly approvalThreshold: number;
  /** How long an order waits for approval (`APPROVAL_TIMEOUT_MS`). @default 86400000 (a day) */
  readonly approvalTimeoutMs: number;
}

/** A whole number from `min` to `max` in a variable, or `otherwise` when it is not set. */
function wholeNumber(
  env: NodeJS.ProcessEnv,
  variable: string,
  range: { min: number; max: number; otherwise: number },
): number {
  const raw = env[variable]?.trim() ?? '';
  if (raw === '') return range.otherwise;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < range.min || value > range.max) {
    throw badSetting(
      variable,
      `${variable} must be a whole number from ${range.min} to ${range.max} (got '${raw}')`,
    );
  }
  return value;
}

/**
 * Reads the orchestrator's configuration (the process's own, `APPROVAL_THRESHOLD` and
 * `APPROVAL_TIMEOUT_MS`); a bad value throws an `INVALID_ARGUMENT` error naming the variable.
 */
export function loadOrchestratorConfig(env: NodeJS.ProcessEnv): OrchestratorConfig {
  return {
    ...loadProcessConfig({ defaultPort: defaultPorts.orchestrator, env }),
    approvalThreshold: wholeNumber(env, 'APPROVAL_THRESHOLD', {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      otherwise: DEFAULT_APPROVAL_THRESHOLD,
    }),
    approvalTimeoutMs: wholeNumber(env, 'APPROVAL_TIMEOUT_MS', {
      min: 1,
      max: SLEEP_MAX_MS,
      otherwise: DEFAULT_APPROVAL_TIMEOUT_MS,
    }),
  };
}

/**
 * The orchestrator service: runs the `order-fulfillment` workflow of every order placed in
 * orchestration mode (its `OrderCreated` starts one), step by step over the participants'
 * command topics, with durable state and timers (`orchestrator.workflow`). It keeps a view of
 * the customers' credit from the payment service's events (`customer-credit`), which the
 * workflow's first step reads locally. Routes: the workflow API (`POST /workflows/:type`,
 * `GET /workflows/:id`, retry and cancel), behind the admin token.
 */
export async function buildOrchestratorService(
  config: ProcessConfig &
    Partial<Pick<OrchestratorConfig, 'approvalThreshold' | 'approvalTimeoutMs'>>,
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
      orderWorkflow(names, {
        ...(options.readCredit === undefined ? {} : { readCredit: options.readCredit }),
        ...(config.approvalThreshold === undefined
          ? {}
          : { approvalThreshold: config.approvalThreshold }),
        ...(config.approvalTimeoutMs === undefined
          ? {}
          : { approvalTimeoutMs: config.approvalTimeoutMs }),
      }),
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
