import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ReferenceClient } from './client.js';
import { serviceNames, type ServiceName } from '@sagaflow/reference-contracts';
import { freePort, ServiceSupervisor } from './supervisor.js';

/** The reference system as six processes on real servers, under a namespace of its own. */
export interface ReferenceProcesses {
  readonly client: ReferenceClient;
  readonly supervisor: ServiceSupervisor;
  readonly namespace: string;
  readonly adminToken: string;
  readonly logDir: string;
  /** Each service's base URL, e.g. `http://127.0.0.1:40123`. */
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** Calls the admin API with the token. */
  admin(pathAndQuery: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Starts every reference service as its own process (supervised: a dead one is restarted) on
 * the given servers, each on a free port and under a fresh namespace, and waits until all
 * answer `/readyz`.
 */
export async function startReferenceProcesses(
  servers: {
    readonly kafkaBrokers: readonly string[];
    readonly schemaRegistryUrl: string;
    readonly mongodbUrl: string;
  },
  options: {
    /** Each service's output goes to `<logRoot>/<namespace>/<service>.log`. */
    readonly logRoot: string;
    /** @default a fresh one, `r<10 hex digits>` ('' for none) */
    readonly namespace?: string;
    /** @default free ports */
    readonly ports?: Readonly<Record<ServiceName, number>>;
    /** @default a fresh random token */
    readonly adminToken?: string;
    readonly env?: NodeJS.ProcessEnv;
    readonly onEvent?: (m: string) => void;
    /** @default 150000 */
    readonly readyTimeoutMs?: number;
  },
): Promise<ReferenceProcesses> {
  const namespace = options.namespace ?? `r${randomBytes(5).toString('hex')}`;
  const adminToken = options.adminToken ?? randomBytes(12).toString('hex');
  const ports = { ...options.ports } as Record<ServiceName, number>;
  for (const s of serviceNames) ports[s] ??= await freePort();
  const urls = Object.fromEntries(
    serviceNames.map((s) => [s, `http://127.0.0.1:${ports[s]}`]),
  ) as Record<ServiceName, string>;
  const logDir = path.join(options.logRoot, namespace === '' ? 'default' : namespace);
  const supervisor = new ServiceSupervisor({
    env: {
      ...process.env,
      KAFKA_BROKERS: servers.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: servers.schemaRegistryUrl,
      MONGODB_URL: servers.mongodbUrl,
      SAGAFLOW_NAMESPACE: namespace,
      ADMIN_TOKEN: adminToken,
      PAYMENT_URL: urls.payment,
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    ports,
    logDir,
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  for (const s of serviceNames) supervisor.start(s);
  const client = new ReferenceClient(urls);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 150_000);
  while (!(await client.ready())) {
    if (Date.now() > deadline) {
      await supervisor.stopAll();
      throw new Error(`the reference services were not ready in time (logs in ${logDir})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    client,
    supervisor,
    namespace,
    adminToken,
    logDir,
    urls,
    admin: (pathAndQuery, init = {}) =>
      fetch(`${urls.admin}${pathAndQuery}`, {
        ...init,
        headers: {
          authorization: `Bearer ${adminToken}`,
          'content-type': 'application/json',
          ...(init.headers as Record<string, string> | undefined),
        },
      }),
    stop: () => supervisor.stopAll(),
  };
}
