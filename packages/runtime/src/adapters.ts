import {
  type AuditLog,
  type DeadLetterStore,
  type EntityStore,
  type EventSerde,
  type Pingable,
  type SagaflowMetrics,
  type SagaViewStore,
  type ServiceBus,
  type TimerStore,
  type ViewStore,
} from '@sagaflow/core';
import { KafkaBus } from '@sagaflow/kafka';
import {
  freshPing,
  MongoAuditLog,
  MongoDeadLetterStore,
  MongoEntityStore,
  MongoSagaViewStore,
  MongoTimerStore,
  MongoViewStore,
} from '@sagaflow/mongodb';
import { AvroSerde, loadSchemaCatalog, type SchemaCatalog } from '@sagaflow/schema-registry';
import {
  MemoryAuditLog,
  MemoryBus,
  MemoryDeadLetterStore,
  MemoryEntityStore,
  MemorySagaViewStore,
  MemorySerde,
  MemoryTimerStore,
  MemoryViewStore,
} from '@sagaflow/memory';
import { MongoClient } from 'mongodb';
import type { ServerAddresses } from './process-config.js';

/** What one service runs on: the adapters of the framework's ports. */
export interface ServiceAdapters {
  readonly store: EntityStore & Partial<Pingable>;
  readonly bus: ServiceBus & { close(): Promise<void> };
  readonly serde: EventSerde & {
    check?(t: string, p: unknown): void;
    registerAll?(): Promise<unknown>;
  };
  readonly timers: TimerStore;
  /** The admin's saga views. */
  readonly views: SagaViewStore;
  /** The service's own views (`defineView`). */
  readonly viewStore: ViewStore;
  readonly audit: AuditLog;
  /** The dead-letter index the admin service keeps. @default none (no dead-letter routes) */
  readonly deadLetters?: DeadLetterStore;
  close(): Promise<void>;
}

/**
 * Builds the adapters of each service of a process. Given `metrics`, the real adapters count
 * their round trips to the servers in it ({@link SagaflowMetrics.roundTrip}).
 */
export type AdapterFactory = (
  service: string,
  database: string,
  metrics?: SagaflowMetrics,
) => Promise<ServiceAdapters>;

/**
 * Kafka, the schema registry and MongoDB (or FerretDB), as the configuration gives them.
 * `schemaDirs` holds the `.avsc` files of the services' events and commands, sagaflow's own
 * (`controlSchemasDir`) included.
 */
export function realAdapters(
  servers: ServerAddresses,
  options: { readonly schemaDirs: readonly string[] },
): AdapterFactory {
  // Read once per factory, not once per service.
  let catalog: Promise<SchemaCatalog> | undefined;
  const schemas = () => (catalog ??= loadSchemaCatalog(options.schemaDirs));
  return async (service, database, metrics) => {
    const roundTrip = metrics?.roundTrip.bind(metrics);
    const client = new MongoClient(servers.mongodbUrl, {
      serverSelectionTimeoutMS: 5000,
      // A call whose answer never comes (a server restarted under it) fails after a minute and
      // is retried, instead of holding its caller for good.
      socketTimeoutMS: 60_000,
      monitorCommands: roundTrip !== undefined,
    });
    if (roundTrip !== undefined) {
      client.on('commandStarted', (event) =>
        roundTrip({ system: 'database', operation: event.commandName }),
      );
    }
    const db = client.db(database);
    const bus = new KafkaBus({
      brokers: servers.kafkaBrokers,
      clientId: service,
      ...(servers.kafkaReplicationFactor === undefined
        ? {}
        : { replicationFactor: servers.kafkaReplicationFactor }),
      ...(servers.kafkaMinInSyncReplicas === undefined
        ? {}
        : { minInSyncReplicas: servers.kafkaMinInSyncReplicas }),
      sessionTimeoutMs: 10_000,
      logLevel: 'nothing',
      ...(roundTrip === undefined
        ? {}
        : { onRequest: (operation) => roundTrip({ system: 'kafka', operation }) }),
    });
    return {
      store: new MongoEntityStore(db, { freshPing: freshPing(servers.mongodbUrl) }),
      bus,
      serde: new AvroSerde({
        registryUrl: servers.schemaRegistryUrl,
        catalog: await schemas(),
      }),
      timers: new MongoTimerStore(db),
      views: new MongoSagaViewStore(db),
      viewStore: new MongoViewStore(db),
      audit: new MongoAuditLog(db),
      deadLetters: new MongoDeadLetterStore(db),
      close: async () => {
        await bus.close();
        await client.close();
      },
    };
  };
}

/** The in-memory adapters: every service of the process on one in-memory bus. */
export function memoryAdapters(options: {
  readonly schemaDirs: readonly string[];
}): AdapterFactory {
  const bus = new MemoryBus();
  let catalog: Promise<SchemaCatalog> | undefined;
  let serde: MemorySerde | undefined;
  return async () => {
    serde ??= new MemorySerde(await (catalog ??= loadSchemaCatalog(options.schemaDirs)));
    const client = bus.client();
    return {
      store: new MemoryEntityStore(),
      bus: client,
      serde,
      timers: new MemoryTimerStore(),
      views: new MemorySagaViewStore(),
      viewStore: new MemoryViewStore(),
      audit: new MemoryAuditLog(),
      deadLetters: new MemoryDeadLetterStore(),
      close: () => client.close(),
    };
  };
}
