export { AdminClient, CliError, exitCodes } from './admin-client.js';
export type { AdminClientOptions } from './admin-client.js';
export { runCli } from './cli.js';
export type { CliIo } from './cli.js';
export { runSagaflowBinary, sagaflowBin } from './binary.js';
export type { BinaryRun } from './binary.js';
