import { loadAdminConfig } from '@sagaflow/admin-service';
import { loadOrchestratorConfig } from '@sagaflow/orchestrator-service';
import { defaultPorts, serviceNames, type ServiceName } from '@sagaflow/reference-contracts';
import { badSetting, loadProcessConfig, type ProcessConfig } from '@sagaflow/runtime';

/** A reference service's configuration, from its environment. */
export interface ServiceConfig extends ProcessConfig {
  readonly service: ServiceName;
}

/**
 * Reads the configuration of one of the reference services as its own `main.ts` does (see
 * `loadProcessConfig`; the admin requires `ADMIN_TOKEN`). A bad value throws an `INVALID_ARGUMENT` error naming it.
 */
export function loadServiceConfig(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): ServiceConfig {
  if (!(serviceNames as readonly string[]).includes(service)) {
    throw badSetting(
      'service',
      `service must be one of ${serviceNames.join(', ')} (got '${service}')`,
    );
  }
  const name = service as ServiceName;
  const base =
    name === 'admin'
      ? loadAdminConfig(env)
      : name === 'orchestrator'
        ? loadOrchestratorConfig(env)
        : loadProcessConfig({ defaultPort: defaultPorts[name], env });
  return { ...base, service: name };
}
