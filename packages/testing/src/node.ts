/**
 * The parts of the test environment that work outside a vitest run, for child processes that
 * tests start: server addresses from the environment, unique names, waiting on conditions.
 * @module
 */
export { uniqueDatabase, uniqueGroupId, uniqueName, uniqueTopic } from './names.js';
export { serverEnvVars, serversFromEnvironment } from './test-env.js';
export type { SagaflowTestEnv } from './test-env.js';
export { runTsScript } from './run-script.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
