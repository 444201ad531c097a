/**
 * Real Kafka (KRaft), Apicurio Registry and FerretDB as local processes, for tests and demos on
 * machines without a Docker engine.
 *
 * @example
 * ```ts
 * import { infraUp, loadInfraConfig } from '@sagaflow/infra-local';
 *
 * const { env } = await infraUp(loadInfraConfig(), console.error);
 * // env.KAFKA_BROKERS, env.SCHEMA_REGISTRY_URL, env.MONGODB_URL
 * ```
 * @module
 */
export { infraEnvVars, loadInfraConfig, repoRoot } from './config.js';
export type { InfraConfig } from './config.js';
export {
  chromiumNeed,
  ensureDebianPackages,
  installCommand,
  postgresqlBinDir,
  postgresqlNeed,
} from './debian-packages.js';
export type { DebianNeed } from './debian-packages.js';
export { InfraError } from './errors.js';
export { goToolPath, installGoTool } from './go-tool.js';
export { freePortRun, freePorts, isPortFree } from './processes.js';
export type { InfraStep, ServerName } from './errors.js';
export {
  infraDown,
  infraEnv,
  infraEnvLines,
  infraStatus,
  infraUp,
  localInfraPossible,
  recordedBrokers,
} from './infra.js';
export type { InfraLog, InfraUpResult, ServerStatus } from './infra.js';
