import { expect, it } from 'vitest';
import { loadProcessConfig } from '../src/index.js';

it('reads the named operator tokens and the read-only token of the admin API, naming a bad value', () => {
  const config = loadProcessConfig({
    defaultPort: 0,
    env: {
      ADMIN_TOKEN: 'shared',
      ADMIN_OPERATOR_TOKENS: 'alice=tok-a, bob=tok-b',
      ADMIN_READ_TOKEN: 'viewer',
    },
  });
  expect(config).toMatchObject({
    adminToken: 'shared',
    operatorTokens: { alice: 'tok-a', bob: 'tok-b' },
    readToken: 'viewer',
  });
  expect(loadProcessConfig({ defaultPort: 0, env: {} })).not.toHaveProperty('operatorTokens');
  for (const bad of ['alice', 'alice=a,alice=b', 'a b=tok']) {
    expect(() =>
      loadProcessConfig({ defaultPort: 0, env: { ADMIN_OPERATOR_TOKENS: bad } }),
    ).toThrow(/ADMIN_OPERATOR_TOKENS must be name=token pairs joined by commas/);
  }
});

it('reads the replication of the topics the services create, naming a bad value', () => {
  const servers = {
    KAFKA_BROKERS: 'k1:9092,k2:9092,k3:9092',
    SCHEMA_REGISTRY_URL: 'http://registry:8081',
    MONGODB_URL: 'mongodb://db:27017',
  };
  expect(loadProcessConfig({ defaultPort: 0, env: servers }).servers).toEqual({
    kafkaBrokers: ['k1:9092', 'k2:9092', 'k3:9092'],
    schemaRegistryUrl: 'http://registry:8081',
    mongodbUrl: 'mongodb://db:27017',
  });
  expect(
    loadProcessConfig({
      defaultPort: 0,
      env: { ...servers, KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' },
    }).servers,
  ).toMatchObject({ kafkaReplicationFactor: 3, kafkaMinInSyncReplicas: 2 });
  for (const [variable, bad] of [
    ['KAFKA_REPLICATION_FACTOR', '0'],
    ['KAFKA_REPLICATION_FACTOR', 'three'],
    ['KAFKA_MIN_INSYNC_REPLICAS', '1.5'],
  ] as const) {
    expect(() =>
      loadProcessConfig({ defaultPort: 0, env: { ...servers, [variable]: bad } }),
    ).toThrow(new RegExp(`^${variable} must be`));
  }
});
