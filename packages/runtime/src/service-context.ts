import type { SagaflowLogger } from '@sagaflow/core';
import { PrometheusMetrics } from '@sagaflow/observability';
import { Registry } from 'prom-client';
import type { AdapterFactory, ServiceAdapters } from './adapters.js';
import type { ProcessConfig } from './process-config.js';
import type { LivenessReport } from './service-app.js';

/** What a service is built with: its name, configuration, adapters and instruments. */
export interface ServiceContext<C extends ProcessConfig = ProcessConfig> {
  /** e.g. `payment-service`. */
  readonly name: string;
  readonly config: C;
  readonly ports: ServiceAdapters;
  /** The service's metrics registry, scraped at `GET /metrics`. */
  readonly registry: Registry;
  readonly metrics: PrometheusMetrics;
  /** Told about background failures (they are retried). */
  readonly onError: (error: unknown, where: string) => void;
  /** Lines about messages and background failures. @default none */
  readonly logger?: SagaflowLogger;
  /** The process's liveness, for `GET /healthz`. @default always alive */
  readonly liveness?: () => LivenessReport;
}

/** Options of {@link serviceContext}: what the caller of a service's build function may add. */
export interface ServiceBuildOptions {
  readonly onError?: (error: unknown, where: string) => void;
  readonly logger?: SagaflowLogger;
  readonly liveness?: () => LivenessReport;
}

/** Opens a service's adapters and makes its metrics registry: the start of every build. */
export async function serviceContext<C extends ProcessConfig>(
  name: string,
  database: string,
  config: C,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<ServiceContext<C>> {
  const registry = new Registry();
  const metrics = new PrometheusMetrics(registry);
  return {
    name,
    config,
    ports: await adapters(name, database, metrics),
    registry,
    metrics,
    onError: options.onError ?? (() => {}),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.liveness === undefined ? {} : { liveness: options.liveness }),
  };
}

/** What every service gives the framework: metrics, logger, error hook. */
export function instrumentsOf(context: ServiceContext) {
  return {
    onError: context.onError,
    metrics: context.metrics,
    ...(context.logger === undefined ? {} : { logger: context.logger }),
  };
}
