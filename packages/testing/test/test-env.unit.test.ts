import { describe, expect, it } from 'vitest';
import { serversFromEnvironment } from '../src/index.js';

describe('serversFromEnvironment', () => {
  it('is undefined when none of the three variables is set', () => {
    expect(serversFromEnvironment({})).toBeUndefined();
  });

  it('reads all three', () => {
    expect(
      serversFromEnvironment({
        KAFKA_BROKERS: 'a:9092, b:9093',
        SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7/',
        MONGODB_URL: 'mongodb://127.0.0.1:27017',
      }),
    ).toEqual({
      kafkaBrokers: ['a:9092', 'b:9093'],
      schemaRegistryUrl: 'http://127.0.0.1:8081/apis/ccompat/v7',
      mongodbUrl: 'mongodb://127.0.0.1:27017',
      source: 'environment',
    });
  });

  it('names the missing variables when only some are set', () => {
    expect(() => serversFromEnvironment({ KAFKA_BROKERS: 'a:9092' })).toThrow(
      /KAFKA_BROKERS is set but SCHEMA_REGISTRY_URL, MONGODB_URL are not/,
    );
  });

  it.each([
    ['KAFKA_BROKERS', 'localhost', /KAFKA_BROKERS must be a comma-separated list of host:port/],
    ['SCHEMA_REGISTRY_URL', 'ftp://x', /SCHEMA_REGISTRY_URL must be an http\(s\) URL/],
    ['MONGODB_URL', 'postgres://x', /MONGODB_URL must be a mongodb:\/\/ URL/],
  ])('names a malformed %s', (name, value, message) => {
    const env: Record<string, string> = {
      KAFKA_BROKERS: '127.0.0.1:9092',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      MONGODB_URL: 'mongodb://127.0.0.1:27017',
      [name]: value,
    };
    expect(() => serversFromEnvironment(env)).toThrow(message);
  });
});
