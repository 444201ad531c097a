import { randomBytes } from 'node:crypto';
import {
  listen,
  loadProcessConfig,
  memoryAdapters,
  realAdapters,
  type AdapterFactory,
  type ProcessConfig,
  type RunningService,
  type ServiceProcess,
} from '@sagaflow/runtime';
import { testEnv } from './provided-env.js';

/** A service started by {@link startServiceInMemory}. */
export interface ServiceInMemory<S extends ServiceProcess> {
  readonly service: S;
  /** e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Builds a service with its own build function on the in-memory adapters (no server, default
 * configuration) and listens on a free port: a service package's own tests.
 */
export async function startServiceInMemory<S extends ServiceProcess>(
  build: (config: ProcessConfig, adapters: AdapterFactory) => Promise<S>,
  options: {
    readonly schemaDirs: readonly string[];
    /** The service's environment (e.g. `ADMIN_TOKEN`). @default empty */
    readonly env?: NodeJS.ProcessEnv;
    /**
     * The adapters, e.g. one `memoryAdapters` factory shared by several services, so that they
     * share its bus. @default `memoryAdapters` of its own
     */
    readonly adapters?: AdapterFactory;
  },
): Promise<ServiceInMemory<S>> {
  const config = loadProcessConfig({ defaultPort: 0, env: options.env ?? {} });
  const running: RunningService<S> = await listen(
    await build(config, options.adapters ?? memoryAdapters({ schemaDirs: options.schemaDirs })),
    config,
  );
  return {
    service: running.service,
    url: `http://127.0.0.1:${running.port}`,
    stop: () => running.stop(),
  };
}

/**
 * Builds a service with its own build function on the real servers of the test run
 * (`testEnv()`), under a namespace of its own (`SAGAFLOW_NAMESPACE`: its topics, consumer groups
 * and databases are the test's alone), and listens on a free port: a service package's
 * integration tests, the same scenario as its in-memory ones.
 */
export async function startServiceOnServers<S extends ServiceProcess>(
  build: (config: ProcessConfig, adapters: AdapterFactory) => Promise<S>,
  options: {
    readonly schemaDirs: readonly string[];
    /** The service's environment (e.g. `ADMIN_TOKEN`). @default empty */
    readonly env?: NodeJS.ProcessEnv;
  },
): Promise<ServiceInMemory<S>> {
  const namespace = `t${randomBytes(6).toString('hex')}`;
  return startServiceInMemory(build, {
    schemaDirs: options.schemaDirs,
    env: { ...options.env, SAGAFLOW_NAMESPACE: namespace },
    adapters: realAdapters(testEnv(), { schemaDirs: options.schemaDirs }),
  });
}
