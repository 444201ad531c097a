import { createAdminApp, HttpError, parseInput, workflowRoutes } from '@sagaflow/admin';
import {
  backgroundReporter,
  consumerLag,
  DeadLetterIndexer,
  eventsTopic,
  newId,
  Orchestrator,
  SagaflowService,
  SagaTracker,
  sagaControl,
  serviceDeadLetterTopics,
  WorkflowControl,
  workflowTopics,
  type SagaflowLogger,
  type SagaflowServiceOptions,
} from '@sagaflow/core';
import { PrometheusMetrics, watchService } from '@sagaflow/observability';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Express } from 'express';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { referenceDomain, type CreditView, type ReferenceDomain } from './domain/domain.js';
import type { ServiceName } from './domain/names.js';
import { referenceProcessors } from './domain/processors.js';
import { reservedOf, type StockState } from './domain/inventory.js';
import { serviceApp, type LivenessReport, type ServiceProcess } from '@sagaflow/runtime';
import type { AdapterFactory, ServiceAdapters } from './runtime/adapters.js';
import type { ServiceConfig } from './runtime/config.js';

/** One reference service: its HTTP app and the framework parts behind it. */
export type ReferenceService = ServiceProcess;

/**
 * Commits are kept a week (the framework's default); looking for expired ones every ten minutes
 * is plenty, and spares the database a scan of every commit each minute.
 */
const COMPACTION = { intervalMs: 10 * 60_000 };

/** Ids in paths and bodies: no spaces, at most 100 characters. */
const ID = /^[\w.:@-]{1,100}$/;
const idParam = (field: string, value: unknown) =>
  parseInput(
    z
      .string()
      .regex(ID, `${field} must be 1 to 100 letters, digits or . _ : @ - (got '${String(value)}')`),
    value,
  );
const count = (field: string, max: number) =>
  z
    .number({ error: `${field} must be a number` })
    .int(`${field} must be an integer`)
    .min(0, `${field} must not be negative`)
    .max(max, `${field} must be at most ${max}`);

const orderBody = z.strictObject({
  customerId: z
    .string({ error: 'customerId must be a string' })
    .regex(ID, 'customerId must be 1 to 100 letters, digits or . _ : @ -'),
  items: z
    .array(
      z.strictObject({
        sku: z
          .string({ error: 'sku must be a string' })
          .regex(ID, 'sku must be 1 to 100 letters, digits or . _ : @ -'),
        quantity: count('quantity', 1_000_000).min(1, 'quantity must be at least 1'),
        unitPrice: count('unitPrice', 1_000_000_000),
      }),
      { error: 'items must be an array of {sku, quantity, unitPrice}' },
    )
    .min(1, 'items must hold at least one item')
    .max(100, 'items must hold at most 100 items'),
  mode: z
    .enum(['choreography', 'orchestration'], {
      error: "mode must be 'choreography' or 'orchestration'",
    })
    .default('choreography'),
});
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

function orderIdFor(key: string | undefined): string {
  return key === undefined
    ? `ord-${newId()}`
    : `ord-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** Builds the service `config.service` on the given adapters. */
export async function buildReferenceService(
  config: ServiceConfig,
  adapters: AdapterFactory,
  options: {
    onError?: (error: unknown, where: string) => void;
    readCredit?: (id: string) => Promise<CreditView>;
    /** Lines about messages and background failures. @default none */
    logger?: SagaflowLogger;
    /** The process's liveness, for `GET /healthz`. @default always alive */
    liveness?: () => LivenessReport;
  } = {},
): Promise<ReferenceService> {
  const readCredit =
    options.readCredit ?? ((customerId: string) => readCreditOver(config.paymentUrl, customerId));
  const domain = referenceDomain({ namespace: config.namespace, readCredit });
  const name = domain.names.service(config.service);
  const ports = await adapters(name, domain.names.database(config.service));
  const onError = options.onError ?? (() => {});
  const builder = builders[config.service];
  const registry = new Registry();
  return builder({
    config,
    domain,
    name,
    ports,
    onError,
    registry,
    metrics: new PrometheusMetrics(registry),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.liveness === undefined ? {} : { liveness: options.liveness }),
  });
}

interface BuildContext {
  readonly config: ServiceConfig;
  readonly domain: ReferenceDomain;
  readonly name: string;
  readonly ports: ServiceAdapters;
  readonly onError: (error: unknown, where: string) => void;
  /** The service's metrics registry, scraped at `GET /metrics`. */
  readonly registry: Registry;
  readonly metrics: PrometheusMetrics;
  readonly logger?: SagaflowLogger;
  readonly liveness?: () => LivenessReport;
}

/** What every service gives the framework: metrics, logger, error hook. */
function instruments(context: BuildContext) {
  return {
    onError: context.onError,
    metrics: context.metrics,
    ...(context.logger === undefined ? {} : { logger: context.logger }),
  };
}

type EntityServiceName = Exclude<ServiceName, 'orchestrator' | 'admin'>;
type ServiceParts = Pick<
  SagaflowServiceOptions,
  'entities' | 'processors' | 'commandEndpoints' | 'topics'
>;

/**
 * What each entity service owns and runs: its entities, its processors, the command topics it
 * consumes. The admin derives the dead-letter topics it indexes from the same table.
 */
function entityServiceParts(domain: ReferenceDomain): Record<EntityServiceName, ServiceParts> {
  const processors = referenceProcessors(domain);
  return {
    order: {
      entities: [domain.order],
      processors: [processors.orders],
      commandEndpoints: [domain.endpoints.order],
      // The order processor reads the workflows' outcomes.
      topics: [eventsTopic(domain.names.workflow)],
    },
    inventory: {
      entities: [domain.stock, domain.reservation],
      processors: [processors.inventory],
      commandEndpoints: [domain.endpoints.inventory],
    },
    payment: {
      entities: [domain.customer],
      processors: [processors.payment],
      commandEndpoints: [domain.endpoints.payment],
    },
    shipping: {
      entities: [domain.shipment],
      processors: [processors.shipping],
      commandEndpoints: [domain.endpoints.shipping],
    },
  };
}

/** An entity service on the framework's SagaflowService (its parts from the table), with its routes. */
function entityService(
  context: BuildContext,
  service: EntityServiceName,
  routes: (app: Express, service: SagaflowService) => void,
): ReferenceService {
  const { config, name, ports, domain, registry } = context;
  const parts = entityServiceParts(domain)[service];
  const sagaflow = new SagaflowService({
    name,
    store: ports.store,
    bus: ports.bus,
    serde: ports.serde,
    partitions: config.partitions,
    compaction: COMPACTION,
    ...instruments(context),
    ...parts,
  });
  watchService(context.registry, () => sagaflow.stats());
  const readiness = () => sagaflow.readiness();
  const { app } = serviceApp({
    service: name,
    readiness,
    registry,
    ...(context.liveness === undefined ? {} : { liveness: context.liveness }),
    routes: (a) => routes(a, sagaflow),
  });
  return {
    name,
    app,
    start: () => sagaflow.start(),
    stop: async () => {
      await sagaflow.stop();
      await ports.close();
    },
    readiness,
  };
}

const builders: Record<ServiceName, (context: BuildContext) => ReferenceService> = {
  order: (context) => {
    const { domain } = context;
    const { order } = domain;
    return entityService(context, 'order', (app, service) => {
      app.post('/orders', async (req, res) => {
        const key = req.header('idempotency-key');
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
          throw new HttpError(
            400,
            'INVALID_ARGUMENT',
            'the Idempotency-Key header must be 1 to 200 visible ASCII characters',
            'Idempotency-Key',
          );
        }
        const body = parseInput(orderBody, req.body ?? {});
        const orderId = orderIdFor(key);
        const mode = body.mode === 'orchestration' ? 'ORCHESTRATION' : 'CHOREOGRAPHY';
        const result = await service.commands.execute(
          order,
          orderId,
          'Place',
          { customerId: body.customerId, items: body.items, mode },
          {
            sagaId: domain.sagaIdOf(orderId, mode),
            ...(key === undefined ? {} : { causationKey: `http:${key}` }),
          },
        );
        if (result.status === 'rejected') {
          // The order id comes from the key: an order that exists was placed with this key.
          const existing =
            key === undefined ? undefined : await service.commands.load(order, orderId);
          if (existing === undefined || existing.state.status === 'NEW') {
            throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
          }
          res.status(200).json({ orderId, sagaId: domain.sagaIdOf(orderId, existing.state.mode) });
          return;
        }
        const placedMode = result.status === 'unchanged' ? mode : result.state.mode;
        res
          .status(result.status === 'duplicate' ? 200 : 202)
          .json({ orderId, sagaId: domain.sagaIdOf(orderId, placedMode) });
      });
      app.get('/orders/:id', async (req, res) => {
        const orderId = idParam('id', req.params['id']);
        const { state } = await service.commands.load(order, orderId);
        if (state.status === 'NEW')
          throw new HttpError(404, 'NOT_FOUND', `no order '${orderId}'`, 'id');
        res.json({
          orderId,
          status: state.status,
          ...(state.rejectionReason === undefined
            ? {}
            : { rejectionReason: state.rejectionReason }),
          total: state.total,
          sagaId: domain.sagaIdOf(orderId, state.mode),
          customerId: state.customerId,
          items: state.items,
          mode: state.mode === 'ORCHESTRATION' ? 'orchestration' : 'choreography',
        });
      });
    });
  },

  inventory: (context) => {
    const { domain } = context;
    const { stock } = domain;
    return entityService(context, 'inventory', (app, service) => {
      const view = (sku: string, state: StockState) => ({
        sku,
        available: state.available,
        reserved: reservedOf(state),
      });
      app.get('/stock/:sku', async (req, res) => {
        const sku = idParam('sku', req.params['sku']);
        const snapshot = await service.commands.load(stock, sku);
        if (snapshot.version === 0)
          throw new HttpError(404, 'NOT_FOUND', `no stock of '${sku}'`, 'sku');
        res.json(view(sku, snapshot.state));
      });
      app.put('/stock/:sku', async (req, res) => {
        const sku = idParam('sku', req.params['sku']);
        const { available } = parseInput(
          z.strictObject({ available: count('available', 1_000_000_000) }),
          req.body ?? {},
        );
        const result = await service.commands.execute(stock, sku, 'Set', { available });
        if (result.status === 'rejected')
          throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
        res.json(view(sku, result.state));
      });
    });
  },

  payment: (context) => {
    const { domain } = context;
    const { customer } = domain;
    return entityService(context, 'payment', (app, service) => {
      const view = (
        customerId: string,
        state: { creditLimit: number; creditReserved: number },
      ) => ({
        customerId,
        creditLimit: state.creditLimit,
        creditReserved: state.creditReserved,
      });
      app.get('/customers/:id', async (req, res) => {
        const id = idParam('id', req.params['id']);
        const { state } = await service.commands.load(customer, id);
        if (!state.known) throw new HttpError(404, 'NOT_FOUND', `no customer '${id}'`, 'id');
        res.json(view(id, state));
      });
      app.put('/customers/:id', async (req, res) => {
        const id = idParam('id', req.params['id']);
        const { creditLimit } = parseInput(
          z.strictObject({ creditLimit: count('creditLimit', 1_000_000_000_000) }),
          req.body ?? {},
        );
        const result = await service.commands.execute(customer, id, 'SetCredit', { creditLimit });
        if (result.status === 'rejected')
          throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
        res.json(view(id, result.state));
      });
    });
  },

  shipping: (context) => {
    const { domain } = context;
    const { shipment } = domain;
    return entityService(context, 'shipping', (app, service) => {
      app.get('/shipments', async (req, res) => {
        const { orderId } = parseInput(
          z.strictObject({
            orderId: z
              .string({ error: 'orderId must be given' })
              .regex(ID, 'orderId must be 1 to 100 letters, digits or . _ : @ -'),
          }),
          req.query,
        );
        const { state } = await service.commands.load(shipment, orderId);
        res.json(
          state.status === 'SCHEDULED'
            ? [{ shipmentId: state.shipmentId, orderId, status: state.status }]
            : [],
        );
      });
    });
  },

  orchestrator: (context) => {
    const { config, domain, name, ports, registry } = context;
    const orchestrator = new Orchestrator({
      name,
      store: ports.store,
      timers: ports.timers,
      bus: ports.bus,
      serde: ports.serde,
      workflows: [domain.workflow],
      entityType: domain.names.workflow,
      triggers: [domain.trigger],
      partitions: config.partitions,
      compaction: COMPACTION,
      ...instruments(context),
    });
    watchService(context.registry, () => orchestrator.service.stats());
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
      start: () => orchestrator.start(),
      stop: async () => {
        await orchestrator.stop();
        await ports.close();
      },
      readiness,
    };
  },

  admin: (context) => {
    const { config, domain, name, ports, onError, registry, metrics, logger } = context;
    const { names } = domain;
    const tracked = backgroundReporter({ service: name, metrics, logger, onError });
    const control = new SagaflowService({
      name,
      store: ports.store,
      bus: ports.bus,
      serde: ports.serde,
      entities: [sagaControl],
      partitions: config.partitions,
      ...instruments(context),
      topics: [...domain.saga.topics, ...workflowTopics(names.workflow, [domain.workflow])],
    });
    const tracker = new SagaTracker({
      groupId: `${name}.tracker`,
      definitions: [domain.saga],
      workflowTopics: workflowTopics(names.workflow, [domain.workflow]),
      subscriber: ports.bus,
      serde: ports.serde,
      views: ports.views,
      metrics,
      onError: (error) => tracked(error, 'tracker'),
      publishCompensation: async (request) => {
        await control.commands.execute(
          sagaControl,
          request.sagaId,
          'RequestCompensation',
          request,
          {
            sagaId: request.sagaId,
            causationKey: 'compensation',
          },
        );
      },
    });
    const deadLetterTopics = Object.entries(entityServiceParts(domain)).flatMap(
      ([service, parts]) =>
        serviceDeadLetterTopics(
          names.service(service as EntityServiceName),
          parts.processors ?? [],
          parts.commandEndpoints ?? [],
        ),
    );
    const indexer =
      ports.deadLetters === undefined
        ? undefined
        : new DeadLetterIndexer({
            subscriber: ports.bus,
            store: ports.deadLetters,
            topics: deadLetterTopics,
            groupId: `${name}.dead-letters`,
          });
    // The control service's outbox, and the lag of the tracker and of the dead-letter index.
    watchService(context.registry, async () => {
      const stats = await control.stats();
      const readers = [
        { group: tracker.groupId, topics: tracker.topics() },
        ...(indexer === undefined
          ? []
          : [{ group: `${name}.dead-letters`, topics: deadLetterTopics }]),
      ];
      return { ...stats, lag: [...stats.lag, ...(await consumerLag(ports.bus, readers))] };
    });
    registry.setDefaultLabels({ service: name });
    collectDefaultMetrics({ register: registry });
    const readiness = () => control.readiness();
    const admin = createAdminApp({
      registry,
      views: ports.views,
      audit: ports.audit,
      token: config.adminToken,
      requestCompensation: (sagaId, request) => tracker.requestCompensation(sagaId, request),
      readiness,
      ...(context.liveness === undefined ? {} : { liveness: context.liveness }),
      workflowControl: new WorkflowControl({
        publisher: ports.bus,
        serde: ports.serde,
        service: name,
      }),
      ...(ports.deadLetters === undefined
        ? {}
        : { deadLetters: { store: ports.deadLetters, publisher: ports.bus } }),
    });
    return {
      name,
      app: admin,
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
  },
};

/** Reads a customer's credit view from the payment service. */
async function readCreditOver(paymentUrl: string, customerId: string): Promise<CreditView> {
  const response = await fetch(`${paymentUrl}/customers/${encodeURIComponent(customerId)}`, {
    signal: AbortSignal.timeout(5000),
  });
  if (response.status === 404)
    return { customerId, known: false, creditLimit: 0, creditReserved: 0 };
  if (!response.ok)
    throw new Error(`the payment service answered ${response.status} for customer ${customerId}`);
  const body = (await response.json()) as { creditLimit: number; creditReserved: number };
  return {
    customerId,
    known: true,
    creditLimit: body.creditLimit,
    creditReserved: body.creditReserved,
  };
}
