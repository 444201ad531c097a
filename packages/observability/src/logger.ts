import type { SagaflowLogger } from '@sagaflow/core';
import { invalidArgument } from '@sagaflow/core';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Log levels a service accepts. */
export const logLevels = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Written as `service` on every line. */
  readonly service: string;
  /** @default 'info' */
  readonly level?: LogLevel;
  /** Where lines go. @default stdout */
  readonly destination?: DestinationStream;
}

/**
 * A pino logger writing JSON lines with `service` on each, fit for the framework's
 * `SagaflowLogger` port. Lines about a message carry `sagaId`, `eventId`, `traceId`, `group`,
 * `topic`, `partition` and `offset`; payloads appear only at debug level and only as the serde
 * redacted them (fields marked `"sensitive": true` in their Avro schema become `[REDACTED]`).
 * Credentials in fields named `authorization`, `token`, `password` or `secret` are censored
 * whatever the level.
 */
export function createLogger(options: LoggerOptions): Logger & SagaflowLogger {
  const level = options.level ?? 'info';
  if (!(logLevels as readonly string[]).includes(level)) {
    throw invalidArgument('level', `must be one of ${logLevels.join(', ')} (got '${level}')`);
  }
  return pino(
    {
      name: options.service,
      level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          'token',
          'password',
          'secret',
          '*.authorization',
          '*.token',
          '*.password',
          '*.secret',
        ],
        censor: '[REDACTED]',
      },
    },
    options.destination,
  );
}
