/** The step of the infrastructure life cycle that failed. */
export type InfraStep =
  'config' | 'prerequisites' | 'install' | 'start' | 'health' | 'stop' | 'env';

/**
 * The servers that the local infrastructure runs: Kafka (its first broker; `kafka-2`, `kafka-3`, …
 * are the others of a cluster of several), the schema registry and the database.
 */
export type ServerName = 'kafka' | `kafka-${number}` | 'registry' | 'database';

/**
 * A failure of the local infrastructure. The message always names the step and the server, and
 * points to the log to read when there is one.
 */
export class InfraError extends Error {
  readonly code = 'INFRA_FAILED';
  readonly step: InfraStep;
  readonly server: ServerName | undefined;
  readonly logFile: string | undefined;

  constructor(
    step: InfraStep,
    server: ServerName | undefined,
    detail: string,
    options: { logFile?: string; cause?: unknown } = {},
  ) {
    const where = server === undefined ? step : `${step} ${server}`;
    const log = options.logFile === undefined ? '' : ` (log: ${options.logFile})`;
    super(
      `[${where}] ${detail}${log}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = 'InfraError';
    this.step = step;
    this.server = server;
    this.logFile = options.logFile;
  }
}
