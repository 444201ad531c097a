import type { ServiceName } from './names.js';

/** Default HTTP port of each service (the services find each other there unless told). */
export const defaultPorts: Readonly<Record<ServiceName, number>> = {
  order: 3001,
  inventory: 3002,
  payment: 3003,
  shipping: 3004,
  orchestrator: 3005,
  admin: 8080,
};
