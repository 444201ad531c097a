/**
 * sagaflow observability: OpenTelemetry tracing for a process ({@link startTracing}), the
 * framework's figures as Prometheus metrics ({@link PrometheusMetrics}, {@link watchService},
 * {@link watchSagas}) and structured logs ({@link createLogger}).
 * @module
 */
export { httpTracing } from './http-tracing.js';
export { createLogger, logLevels } from './logger.js';
export type { LoggerOptions, LogLevel } from './logger.js';
export { PrometheusMetrics, watchSagas, watchService } from './metrics.js';
export type { ScrapeOptions } from './metrics.js';
export { otlpTracesUrl, startTracing } from './tracing.js';
export type { Tracing, TracingOptions } from './tracing.js';
