import type { TestProject } from 'vitest/node';
import { resolveServers } from './resolve-servers.js';
import type {} from './provided-env.js';

/**
 * Vitest global setup of the integration and end-to-end tiers: resolves real servers once per
 * run and hands their addresses to the tests (`testEnv()`), and to child processes through
 * `KAFKA_BROKERS`, `SCHEMA_REGISTRY_URL` and `MONGODB_URL`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await resolveServers((message) => process.stderr.write(`${message}\n`));
  project.provide('sagaflow', servers.env);
  process.env['KAFKA_BROKERS'] = servers.env.kafkaBrokers.join(',');
  process.env['SCHEMA_REGISTRY_URL'] = servers.env.schemaRegistryUrl;
  process.env['MONGODB_URL'] = servers.env.mongodbUrl;
  return servers.release;
}
