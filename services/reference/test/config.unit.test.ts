import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../src/config.js';

const servers = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  MONGODB_URL: 'mongodb://127.0.0.1:27017/',
};

describe('loadServiceConfig', () => {
  it('reads the servers, port and namespace, with defaults', () => {
    expect(loadServiceConfig('order', servers)).toMatchObject({
      service: 'order',
      port: 3001,
      host: '127.0.0.1',
      servers: { kafkaBrokers: ['127.0.0.1:9092'], mongodbUrl: servers.MONGODB_URL },
      namespace: '',
      partitions: 3,
      logLevel: 'info',
    });
    expect(loadServiceConfig('payment', {}).servers).toBeUndefined();
    expect(loadServiceConfig('shipping', { PORT: '0', SAGAFLOW_NAMESPACE: 'ns1' })).toMatchObject({
      port: 0,
      namespace: 'ns1',
    });
  });

  it.each([
    ['billing', {}, /service must be one of order, inventory/],
    ['order', { KAFKA_BROKERS: 'k:9092' }, /SCHEMA_REGISTRY_URL, MONGODB_URL must be set too/],
    ['order', { ...servers, KAFKA_BROKERS: 'nohost' }, /KAFKA_BROKERS must be host:port/],
    [
      'order',
      { ...servers, MONGODB_URL: 'postgres://x' },
      /MONGODB_URL must be a mongodb:\/\/ URL/,
    ],
    ['order', { PORT: '70000' }, /PORT must be between 0 and 65535/],
    ['order', { PORT: 'eighty' }, /PORT must be a port number/],
    ['order', { SAGAFLOW_NAMESPACE: 'Bad-Name' }, /SAGAFLOW_NAMESPACE must be 1 to 20 lower-case/],
    ['order', { SAGAFLOW_PARTITIONS: '0' }, /SAGAFLOW_PARTITIONS must be at least 1/],
    ['order', { LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of silent, error, warn, info, debug/],
    ['admin', {}, /ADMIN_TOKEN must be set/],
  ])('refuses %s with %j, naming the variable', (service, env, message) => {
    expect(() => loadServiceConfig(service, env)).toThrow(message);
  });
});
