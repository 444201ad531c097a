import { SagaflowService, type SagaflowServiceOptions } from '@sagaflow/core';
import { watchService } from '@sagaflow/observability';
import type { Express } from 'express';
import { serviceApp } from './service-app.js';
import { instrumentsOf, type ServiceContext } from './service-context.js';
import type { ServiceProcess } from './service-process.js';

/**
 * Commits are kept a week (the framework's default); looking for expired ones every ten minutes
 * is plenty, and spares the database a scan of every commit each minute.
 */
export const serviceCompaction = { intervalMs: 10 * 60_000 };

/** What an entity service owns and runs. */
export type EntityServiceParts = Pick<
  SagaflowServiceOptions,
  'entities' | 'processors' | 'commandEndpoints' | 'topics' | 'views'
>;

/** A service process whose framework part is one {@link SagaflowService}. */
export interface EntityServiceProcess extends ServiceProcess {
  readonly sagaflow: SagaflowService;
}

/**
 * An entity service as a process: a {@link SagaflowService} with the given parts on the
 * context's adapters, its outbox and lag gauges on `GET /metrics`, and the service app with its
 * own routes.
 */
export function entityServiceProcess(
  context: ServiceContext,
  parts: EntityServiceParts,
  routes: (app: Express, service: SagaflowService) => void,
): EntityServiceProcess {
  const { config, name, ports, registry } = context;
  const sagaflow = new SagaflowService({
    name,
    store: ports.store,
    bus: ports.bus,
    serde: ports.serde,
    partitions: config.partitions,
    relay: { shards: config.relayShards },
    compaction: serviceCompaction,
    viewStore: ports.viewStore,
    ...instrumentsOf(context),
    ...parts,
  });
  watchService(registry, () => sagaflow.stats());
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
    sagaflow,
    start: () => sagaflow.start(),
    stop: async () => {
      await sagaflow.stop();
      await ports.close();
    },
    readiness,
  };
}
