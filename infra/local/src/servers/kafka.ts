import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { infraEnvVars, type InfraConfig } from '../config.js';
import type { LocalServer } from '../local-server.js';
import { runToCompletion } from '../processes.js';
import { installOnce, isInstalledIn, pathExists } from '../install-once.js';
import type { ServerName } from '../errors.js';

const HEALTH_TOPIC = '__sagaflow_health';

function installDir(config: InfraConfig): string {
  return path.join(config.cacheDir, `kafka-${config.kafka.version}`);
}

function isKafka3(config: InfraConfig): boolean {
  return config.kafka.version.startsWith('3.');
}

/** The published poms carry no logging backend: add the one that matches the version's API. */
function loggingDependencies(config: InfraConfig): string[] {
  return isKafka3(config)
    ? ['org.slf4j:slf4j-reload4j:1.7.36']
    : [
        'org.apache.logging.log4j:log4j-slf4j-impl:2.24.3',
        'org.apache.logging.log4j:log4j-core:2.24.3',
      ];
}

function pom(config: InfraConfig): string {
  const deps = [
    `org.apache.kafka:kafka_2.13:${config.kafka.version}`,
    ...loggingDependencies(config),
  ]
    .map((coordinates) => {
      const [groupId, artifactId, version] = coordinates.split(':');
      return `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
    })
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.sagaflow.infra</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${config.kafka.version}</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}

function loggingSetup(
  config: InfraConfig,
  dir: string,
): { file: string; text: string; flag: string } {
  if (isKafka3(config)) {
    const file = path.join(dir, 'log4j.properties');
    return {
      file,
      flag: `-Dlog4j.configuration=file:${file}`,
      text: [
        'log4j.rootLogger=INFO, stdout',
        'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.kafka.request.logger=WARN',
        'log4j.logger.state.change.logger=WARN',
        '',
      ].join('\n'),
    };
  }
  const file = path.join(dir, 'log4j2.properties');
  return {
    file,
    flag: `-Dlog4j2.configurationFile=file:${file}`,
    text: [
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      'rootLogger.level=INFO',
      'rootLogger.appenderRefs=stdout',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      '',
    ].join('\n'),
  };
}

/** Broker `index` (from 0) of the cluster: its node id and ports. */
function node(config: InfraConfig, index: number) {
  return {
    id: index + 1,
    port: config.kafka.port + 2 * index,
    controllerPort: config.kafka.controllerPort + 2 * index,
  };
}

const nodesOf = (config: InfraConfig) =>
  Array.from({ length: config.kafka.brokers }, (_, i) => node(config, i));

function serverProperties(config: InfraConfig, index: number, dataDir: string): string {
  const { id, port, controllerPort } = node(config, index);
  const brokers = config.kafka.brokers;
  // What production asks of a cluster of three: every write on two replicas at least.
  const replicas = Math.min(3, brokers);
  const minIsr = replicas >= 3 ? 2 : 1;
  return [
    'process.roles=broker,controller',
    `node.id=${id}`,
    `controller.quorum.voters=${nodesOf(config)
      .map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`)
      .join(',')}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    `default.replication.factor=${replicas}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${replicas}`,
    'offsets.topic.num.partitions=10',
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${minIsr}`,
    'transaction.state.log.num.partitions=10',
    `share.coordinator.state.topic.replication.factor=${replicas}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    'log.retention.hours=24',
    'log.segment.bytes=16777216',
    '',
  ].join('\n');
}

/**
 * The cluster id every broker's storage is formatted with: one per state folder, the same for
 * every broker of it (a KRaft cluster id is 16 bytes, base64url; here of a hash of the folder's
 * path). The first byte's top bit is cleared, so that the id never starts with '-' (or '_'),
 * which the storage tool's `-t <id>` would read as an option. Used only to format a storage.
 */
export function clusterIdOf(config: Pick<InfraConfig, 'stateDir'>): string {
  const bytes = createHash('sha256').update(config.stateDir).digest().subarray(0, 16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('base64url');
}

function classpath(config: InfraConfig): string {
  return `${path.join(installDir(config), 'libs')}/*`;
}

/** The name of broker `index` (from 0): `kafka`, then `kafka-2`, `kafka-3`, … */
export const kafkaNodeName = (index: number): ServerName =>
  index === 0 ? 'kafka' : `kafka-${index + 1}`;

/**
 * One broker of a local KRaft cluster (each broker is a controller too; one broker by default),
 * from the Maven Central jars.
 */
export const kafkaServer = (index: number): LocalServer => ({
  name: kafkaNodeName(index),
  title: index === 0 ? 'Apache Kafka' : `Apache Kafka broker ${index + 1}`,
  installTools: [
    { command: 'java', why: 'Kafka runs on a JDK 17+' },
    { command: 'mvn', why: 'the Kafka jars come from Maven Central' },
  ],
  runTools: [{ command: 'java', why: 'Kafka runs on a JDK 17+' }],
  ports: (config) => [
    { envVar: infraEnvVars.kafkaPort, port: node(config, index).port },
    { envVar: infraEnvVars.kafkaControllerPort, port: node(config, index).controllerPort },
  ],
  version: (config) => config.kafka.version,
  isInstalled: (config) => isInstalledIn(installDir(config)),
  install: (config, logFile) =>
    installOnce(installDir(config), async (dir) => {
      await writeFile(path.join(dir, 'pom.xml'), pom(config));
      await runToCompletion(
        {
          command: 'mvn',
          args: [
            '-B',
            '-q',
            'dependency:copy-dependencies',
            '-DincludeScope=runtime',
            `-DoutputDirectory=${path.join(dir, 'libs')}`,
          ],
          cwd: dir,
        },
        logFile,
      );
      const jars = await readdir(path.join(dir, 'libs'));
      if (!jars.includes(`kafka_2.13-${config.kafka.version}.jar`)) {
        throw new Error(`kafka_2.13-${config.kafka.version}.jar is missing after the download`);
      }
    }),
  async prepare(config, dir, logFile) {
    const dataDir = path.join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    const propertiesFile = path.join(dir, 'server.properties');
    await writeFile(propertiesFile, serverProperties(config, index, dataDir));
    const logging = loggingSetup(config, dir);
    await writeFile(logging.file, logging.text);
    const java = ['-cp', classpath(config), logging.flag];
    if (!(await pathExists(path.join(dataDir, 'meta.properties')))) {
      const clusterId = clusterIdOf(config);
      await runToCompletion(
        {
          command: 'java',
          args: [
            ...java,
            'kafka.tools.StorageTool',
            'format',
            '-t',
            clusterId,
            '-c',
            propertiesFile,
          ],
        },
        logFile,
      );
    }
    return {
      command: 'java',
      args: [
        `-Xms${Math.min(256, config.kafka.heapMb)}m`,
        `-Xmx${config.kafka.heapMb}m`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        ...java,
        'kafka.Kafka',
        propertiesFile,
      ],
    };
  },
  async check(config) {
    const { id, port } = node(config, index);
    const kafka = new Kafka({
      clientId: 'sagaflow-infra',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      requestTimeout: 5000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      await checkServes(admin, id, config.kafka.brokers);
    } finally {
      await admin.disconnect();
    }
  },
  runningVersion: (config) => Promise.resolve(config.kafka.version),
  // The first broker's line names them all.
  envLine: (config) =>
    index === 0
      ? `KAFKA_BROKERS=${nodesOf(config)
          .map((n) => `127.0.0.1:${n.port}`)
          .join(',')}`
      : undefined,
});

/**
 * Whether broker `id` serves: the cluster's controllers create a topic with a replica on every
 * broker (once), one of them leads it, and the broker lists itself and every other broker.
 */
async function checkServes(admin: Admin, id: number, brokers: number): Promise<void> {
  await admin.createTopics({
    topics: [{ topic: HEALTH_TOPIC, numPartitions: 1, replicationFactor: brokers }],
    waitForLeaders: true,
    timeout: 5000,
  });
  const { topics } = await admin.fetchTopicMetadata({ topics: [HEALTH_TOPIC] });
  const leader = topics[0]?.partitions[0]?.leader;
  if (leader === undefined || leader < 0) throw new Error(`${HEALTH_TOPIC} has no leader yet`);
  // Every broker known to this one: a client that starts from it sees the whole cluster (a
  // topic created while it sees fewer would get fewer replicas).
  const cluster = await admin.describeCluster();
  if (!cluster.brokers.some((b) => b.nodeId === id) || cluster.brokers.length < brokers) {
    throw new Error(
      `broker ${id} sees ${cluster.brokers.length} of the ${brokers} broker(s) (${cluster.brokers.map((b) => b.nodeId).join(', ')})`,
    );
  }
}
