import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InfraError, loadInfraConfig, repoRoot } from '../src/index.js';

describe('loadInfraConfig', () => {
  it('has the documented defaults', () => {
    const config = loadInfraConfig({ HOME: '/home/u' });
    expect(config.stateDir).toBe(path.join(repoRoot, '.sagaflow', 'infra'));
    expect(config.cacheDir).toBe('/home/u/.cache/sagaflow');
    expect(config.kafka).toEqual({
      version: '3.9.1',
      port: 9092,
      controllerPort: 9093,
      heapMb: 1024,
      brokers: 1,
    });
    expect(config.registry).toEqual({ version: '3.0.9', port: 8081, heapMb: 512 });
    expect(config.database).toMatchObject({ version: '1.24.2', port: 27017, backend: 'sqlite' });
  });

  it('takes ports, versions and folders from the environment', () => {
    const config = loadInfraConfig({
      SAGAFLOW_KAFKA_PORT: '19092',
      SAGAFLOW_KAFKA_VERSION: '4.1.1',
      SAGAFLOW_REGISTRY_PORT: '18081',
      SAGAFLOW_MONGODB_PORT: '27018',
      SAGAFLOW_FERRETDB_BACKEND: 'postgresql',
      SAGAFLOW_FERRETDB_POSTGRESQL_URL: 'postgres://127.0.0.1:5432/sagaflow',
      SAGAFLOW_INFRA_STATE_DIR: '/tmp/state',
      SAGAFLOW_INFRA_CACHE_DIR: '/tmp/cache',
    });
    expect(config.kafka).toMatchObject({ version: '4.1.1', port: 19092 });
    expect(config.registry.port).toBe(18081);
    expect(config.database).toMatchObject({
      port: 27018,
      backend: 'postgresql',
      postgresqlUrl: 'postgres://127.0.0.1:5432/sagaflow',
    });
    expect(config.stateDir).toBe('/tmp/state');
    expect(config.cacheDir).toBe('/tmp/cache');
  });

  it.each([
    [{ SAGAFLOW_KAFKA_PORT: 'abc' }, /SAGAFLOW_KAFKA_PORT must be a port number \(got 'abc'\)/],
    [{ SAGAFLOW_REGISTRY_PORT: '70000' }, /SAGAFLOW_REGISTRY_PORT must be between 1 and 65535/],
    [{ SAGAFLOW_MONGODB_PORT: '27017.5' }, /SAGAFLOW_MONGODB_PORT must be an integer/],
    [{ SAGAFLOW_KAFKA_VERSION: 'latest' }, /SAGAFLOW_KAFKA_VERSION must be a version like 3.9.1/],
    [{ SAGAFLOW_KAFKA_VERSION: '2.8.2' }, /SAGAFLOW_KAFKA_VERSION must be 3.x or newer/],
    [{ SAGAFLOW_FERRETDB_VERSION: '2.1.0' }, /SAGAFLOW_FERRETDB_VERSION must be 1.x/],
    [
      { SAGAFLOW_FERRETDB_BACKEND: 'mysql' },
      /SAGAFLOW_FERRETDB_BACKEND must be 'sqlite' or 'postgresql'/,
    ],
    [{ SAGAFLOW_KAFKA_BROKERS: '0' }, /SAGAFLOW_KAFKA_BROKERS must be at least 1/],
    [{ SAGAFLOW_KAFKA_BROKERS: '9' }, /SAGAFLOW_KAFKA_BROKERS must be at most 5/],
    [
      { SAGAFLOW_KAFKA_BROKERS: '3', SAGAFLOW_REGISTRY_PORT: '9096' },
      /SAGAFLOW_REGISTRY_PORT must differ from SAGAFLOW_KAFKA_PORT \+ 4 \(broker 3\) \(both are 9096\)/,
    ],
    [
      { SAGAFLOW_KAFKA_BROKERS: '3', SAGAFLOW_KAFKA_CONTROLLER_PORT: '65534' },
      /SAGAFLOW_KAFKA_CONTROLLER_PORT \+ 2 \(controller 2\) must be at most 65535 \(got 65536\)/,
    ],
    [{ SAGAFLOW_INFRA_START_TIMEOUT_MS: '-5' }, /SAGAFLOW_INFRA_START_TIMEOUT_MS must be positive/],
    [
      { SAGAFLOW_MONGODB_PORT: '9092' },
      /SAGAFLOW_MONGODB_PORT must differ from SAGAFLOW_KAFKA_PORT \(both are 9092\)/,
    ],
  ])('refuses %o, naming the variable', (env, message) => {
    expect(() => loadInfraConfig(env)).toThrow(InfraError);
    expect(() => loadInfraConfig(env)).toThrow(message);
  });

  it('names the step in the error', () => {
    try {
      loadInfraConfig({ SAGAFLOW_KAFKA_PORT: '0' });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ step: 'config', code: 'INFRA_FAILED' });
      expect((error as Error).message).toMatch(/^\[config\] SAGAFLOW_KAFKA_PORT/);
    }
  });
});
