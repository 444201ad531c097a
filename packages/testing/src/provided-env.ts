import { inject } from 'vitest';
import type { SagaflowTestEnv } from './test-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sagaflow: SagaflowTestEnv;
  }
}

/** The real servers of this run, as resolved by the global setup. */
export function testEnv(): SagaflowTestEnv {
  const env = inject('sagaflow') as SagaflowTestEnv | undefined;
  if (env === undefined) {
    throw new Error(
      "no servers were provided: this test must run in the 'int' or 'e2e' project, whose global setup resolves them",
    );
  }
  return env;
}
