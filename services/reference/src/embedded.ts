import { randomBytes } from 'node:crypto';
import { ReferenceClient } from './client.js';
import { serviceNames, type ServiceName } from '@sagaflow/reference-contracts';
import { listen, type RunningService } from '@sagaflow/runtime';
import { memoryAdapters } from './adapters.js';
import { loadServiceConfig } from './config.js';
import { buildReferenceService } from './services.js';

/** The settings of the services that the embedded system takes from its environment. */
const approvalSettings = ['APPROVAL_THRESHOLD', 'APPROVAL_TIMEOUT_MS'];

/** The whole reference system in this process, on the in-memory adapters. */
export interface EmbeddedSystem {
  readonly client: ReferenceClient;
  readonly urls: Readonly<Record<ServiceName, string>>;
  readonly adminToken: string;
  stop(): Promise<void>;
}

/**
 * Starts every service in this process on one in-memory bus, each with its own stores and HTTP
 * port (the default ports, or `ports`; 0 picks free ones).
 */
export async function startEmbedded(
  options: {
    ports?: Partial<Record<ServiceName, number>>;
    adminToken?: string;
    onError?: (error: unknown, where: string) => void;
    /** Where `APPROVAL_THRESHOLD` and `APPROVAL_TIMEOUT_MS` are read. @default process.env */
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<EmbeddedSystem> {
  const adapters = memoryAdapters();
  const adminToken = options.adminToken ?? randomBytes(12).toString('hex');
  const running: RunningService[] = [];
  const urls = {} as Record<ServiceName, string>;
  try {
    for (const name of serviceNames) {
      const env: NodeJS.ProcessEnv = {
        // When large orders wait for approval, as the services' own processes would read it.
        ...Object.fromEntries(
          approvalSettings.flatMap((v) => {
            const value = (options.env ?? process.env)[v];
            return value === undefined ? [] : [[v, value]];
          }),
        ),
        ADMIN_TOKEN: adminToken,
        ...(options.ports?.[name] === undefined ? {} : { PORT: String(options.ports[name]) }),
      };
      const config = loadServiceConfig(name, env);
      const service = await buildReferenceService(config, adapters, {
        ...(options.onError === undefined ? {} : { onError: options.onError }),
      });
      const started = await listen(service, config);
      running.push(started);
      urls[name] = `http://127.0.0.1:${started.port}`;
    }
  } catch (error) {
    for (const r of running.reverse()) await r.stop().catch(() => {});
    throw error;
  }
  return {
    client: new ReferenceClient(urls),
    urls,
    adminToken,
    stop: async () => {
      for (const r of [...running].reverse()) await r.stop();
    },
  };
}
