import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ReferenceClient } from './client.js';
import { invalidArgument } from '@sagaflow/core';
import { serviceNames, type ServiceName } from '@sagaflow/reference-contracts';
import { freePorts } from '@sagaflow/infra-local';
import { REPLICA_PORT_STEP, ServiceSupervisor } from './supervisor.js';

/** Participant services, which can run as several replicas. */
export const participantServices = ['order', 'inventory', 'payment', 'shipping'] as const;
/** Replicas of each participant service at most. */
export const MAX_REPLICAS = 4;
/** Outbox shards of each service when its processes run as replicas. */
export const REPLICA_SHARDS = 4;

/** One process of the reference system. */
export interface ReferenceInstance {
  /** `<service>`, or `<service>#<replica>` from the second replica on. */
  readonly name: string;
  readonly service: ServiceName;
  readonly replica: number;
  readonly url: string;
}

const isParticipant = (s: ServiceName) => (participantServices as readonly string[]).includes(s);

/** The reference system as six processes on real servers, under a namespace of its own. */
export interface ReferenceProcesses {
  readonly client: ReferenceClient;
  readonly supervisor: ServiceSupervisor;
  readonly namespace: string;
  readonly adminToken: string;
  readonly logDir: string;
  /** Each service's base URL, e.g. `http://127.0.0.1:40123` (its first replica's). */
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** Every process: `inventory`, `inventory#1` (its second replica), … */
  readonly instances: readonly ReferenceInstance[];
  /** A client per replica: client k calls replica k of each participant service. */
  readonly clients: readonly ReferenceClient[];
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
    /**
     * Processes of each participant service (order, inventory, payment, shipping), replica k on
     * the service's port + 100 · k, sharing the work: their outbox shards
     * (`SAGAFLOW_RELAY_SHARDS`, {@link REPLICA_SHARDS} when there are replicas) and their
     * consumer groups. @default 1
     */
    readonly replicas?: number;
  },
): Promise<ReferenceProcesses> {
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw invalidArgument(
      'replicas',
      `must be an integer from 1 to ${MAX_REPLICAS} (got ${replicas})`,
    );
  }
  const namespace = options.namespace ?? `r${randomBytes(5).toString('hex')}`;
  const adminToken = options.adminToken ?? randomBytes(12).toString('hex');
  const ports = { ...options.ports } as Record<ServiceName, number>;
  const missing = serviceNames.filter((s) => ports[s] === undefined);
  const found = await freePorts(missing.length);
  missing.forEach((s, i) => (ports[s] = found[i]!));
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
      LOG_LEVEL: 'warn',
      ...(replicas === 1 ? {} : { SAGAFLOW_RELAY_SHARDS: String(REPLICA_SHARDS) }),
      ...options.env,
    },
    ports,
    logDir,
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  for (const s of serviceNames) supervisor.start(s);
  for (let replica = 1; replica < replicas; replica += 1) {
    for (const s of participantServices) supervisor.start(s, replica);
  }
  const client = new ReferenceClient(urls);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 150_000);
  const urlOf = (s: ServiceName, replica: number) =>
    `http://127.0.0.1:${ports[s] + REPLICA_PORT_STEP * replica}`;
  const instances = serviceNames.flatMap((service) =>
    Array.from({ length: isParticipant(service) ? replicas : 1 }, (_, replica) => ({
      name: replica === 0 ? service : `${service}#${replica}`,
      service,
      replica,
      url: urlOf(service, replica),
    })),
  );
  const clients = [
    client,
    ...Array.from(
      { length: replicas - 1 },
      (_, k) =>
        new ReferenceClient(
          Object.fromEntries(
            serviceNames.map((s) => [s, urlOf(s, isParticipant(s) ? k + 1 : 0)]),
          ) as Record<ServiceName, string>,
        ),
    ),
  ];
  while (!(await client.ready(instances.map((i) => i.url)))) {
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
    instances,
    clients,
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
