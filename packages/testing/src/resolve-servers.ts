import { infraDown, infraUp, loadInfraConfig, localInfraPossible } from '@sagaflow/infra-local';
import { serversFromEnvironment, type SagaflowTestEnv } from './test-env.js';

/** Servers found for a test run, and how to release what the run itself started. */
export interface ResolvedServers {
  readonly env: SagaflowTestEnv;
  /** Stops what was started for this run; servers found running are left alone. */
  readonly release: () => Promise<void>;
}

/** Image tags used where a Docker engine runs the servers instead. */
export const containerImages = {
  kafka: 'confluentinc/cp-kafka:7.9.0',
  registry: 'apicurio/apicurio-registry:3.0.9',
  mongodb: 'mongo:8.0',
} as const;

async function dockerAnswers(): Promise<string | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function startContainers(): Promise<ResolvedServers> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const { MongoDBContainer } = await import('@testcontainers/mongodb');
  const [kafka, registry, mongodb] = await Promise.all([
    new KafkaContainer(containerImages.kafka).withKraft().start(),
    new GenericContainer(containerImages.registry)
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
      .start(),
    new MongoDBContainer(containerImages.mongodb).start(),
  ]);
  return {
    env: {
      kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
      schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      mongodbUrl: mongodb.getConnectionString(),
      source: 'testcontainers',
    },
    release: async () => {
      await Promise.all([kafka.stop(), registry.stop(), mongodb.stop()]);
    },
  };
}

/**
 * Finds real servers for a test run, in this order: the `KAFKA_BROKERS`, `SCHEMA_REGISTRY_URL`
 * and `MONGODB_URL` variables; else the local infrastructure (`infra/local`, installed and started
 * if needed); else containers, where a Docker engine answers. When none is possible it throws a
 * message that says which of the three to provide. It never skips.
 */
export async function resolveServers(
  log: (message: string) => void = () => {},
): Promise<ResolvedServers> {
  const fromEnv = serversFromEnvironment();
  if (fromEnv !== undefined) {
    log('sagaflow: using the servers named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL, MONGODB_URL');
    return { env: fromEnv, release: async () => {} };
  }
  const config = loadInfraConfig();
  const missing = await localInfraPossible(config);
  if (missing.length === 0) {
    log('sagaflow: using the local infrastructure (infra/local)');
    const { env, started } = await infraUp(config, log);
    return {
      env: {
        kafkaBrokers: env.KAFKA_BROKERS.split(','),
        schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
        mongodbUrl: env.MONGODB_URL,
        source: 'local',
      },
      release: async () => {
        if (started.length > 0) {
          await infraDown(config, { servers: started, log });
        }
      },
    };
  }
  const dockerProblem = await dockerAnswers();
  if (dockerProblem === undefined) {
    log('sagaflow: starting the servers with testcontainers');
    return startContainers();
  }
  throw new Error(
    [
      'sagaflow tests need real Kafka, schema registry and MongoDB servers, and none can be had:',
      '  1. set KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL to running servers; or',
      `  2. let the tests run them locally, which needs: ${missing.join('; ')}; or`,
      `  3. run a Docker engine for testcontainers (now: ${dockerProblem}).`,
    ].join('\n'),
  );
}
