import { buildAdminService } from '@sagaflow/admin-service';
import { buildInventoryService } from '@sagaflow/inventory-service';
import { buildOrchestratorService } from '@sagaflow/orchestrator-service';
import { buildOrderService } from '@sagaflow/order-service';
import { buildPaymentService } from '@sagaflow/payment-service';
import type { CreditView, ServiceName } from '@sagaflow/reference-contracts';
import { buildShippingService } from '@sagaflow/shipping-service';
import type { AdapterFactory, ServiceBuildOptions, ServiceProcess } from '@sagaflow/runtime';
import type { ServiceConfig } from './config.js';

/** One reference service: its HTTP app and the framework parts behind it. */
export type ReferenceService = ServiceProcess;

const builders: Record<
  ServiceName,
  (
    config: ServiceConfig,
    adapters: AdapterFactory,
    options: ServiceBuildOptions & { readCredit?: (id: string) => Promise<CreditView> },
  ) => Promise<ReferenceService>
> = {
  order: buildOrderService,
  inventory: buildInventoryService,
  payment: buildPaymentService,
  shipping: buildShippingService,
  orchestrator: buildOrchestratorService,
  admin: buildAdminService,
};

/**
 * Builds the service `config.service` with its own package's build function: what a process
 * that runs several of them (the embedded demo, a test) calls for each.
 */
export function buildReferenceService(
  config: ServiceConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions & {
    /** Reads a customer's credit (the orchestrator). @default from the payment service */
    readCredit?: (id: string) => Promise<CreditView>;
  } = {},
): Promise<ReferenceService> {
  return builders[config.service](config, adapters, options);
}
