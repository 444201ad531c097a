import { invalidArgument } from '@sagaflow/core';

/**
 * Names of the reference system's entity types, services and databases. A namespace (tests give
 * each run its own) prefixes all of them, so that several systems share one set of servers.
 */
export interface ReferenceNames {
  readonly namespace: string;
  readonly order: string;
  readonly stock: string;
  readonly reservation: string;
  readonly customer: string;
  readonly shipment: string;
  readonly workflow: string;
  /** A service's name, e.g. `order-service` (or `<namespace>-order-service`). */
  service(name: ServiceName): string;
  /** A service's database name, e.g. `sagaflow_orders`. */
  database(name: ServiceName): string;
}

export const serviceNames = [
  'order',
  'inventory',
  'payment',
  'shipping',
  'orchestrator',
  'admin',
] as const;
export type ServiceName = (typeof serviceNames)[number];

const NAMESPACE = /^[a-z][a-z0-9]{0,19}$/;

/** Returns a namespace ('' for none) if valid; else throws INVALID_ARGUMENT naming `field`. */
export function checkNamespace(field: string, namespace: string): string {
  if (namespace !== '' && !NAMESPACE.test(namespace)) {
    throw invalidArgument(
      field,
      `must be 1 to 20 lower-case letters and digits, starting with a letter (got '${namespace}')`,
    );
  }
  return namespace;
}

/** The names for a namespace ('' for none). */
export function referenceNames(namespace = ''): ReferenceNames {
  checkNamespace('namespace', namespace);
  const type = (name: string) => (namespace === '' ? name : `${namespace}.${name}`);
  return {
    namespace,
    order: type('orders.order'),
    stock: type('inventory.stock'),
    reservation: type('inventory.reservation'),
    customer: type('payment.customer'),
    shipment: type('shipping.shipment'),
    workflow: type('orchestrator.workflow'),
    service: (name) => (namespace === '' ? `${name}-service` : `${namespace}-${name}-service`),
    database: (name) => `${namespace === '' ? 'sagaflow' : namespace}_${name}`,
  };
}
