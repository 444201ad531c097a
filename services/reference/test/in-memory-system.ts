import {
  eventMessage,
  newId,
  sagaControl,
  type EventSerde,
  type MessagePublisher,
} from '@sagaflow/core';
import {
  CHOREOGRAPHY_SAGA,
  referenceSchemaDirs,
  sagaIdOf,
  serviceNames,
  type ServiceName,
} from '@sagaflow/reference-contracts';
import {
  memoryAdapters,
  type AdapterFactory,
  type EntityServiceProcess,
  type ProcessConfig,
  type ServiceAdapters,
  type ServiceProcess,
} from '@sagaflow/runtime';
import { startServiceInMemory, type ServiceInMemory } from '@sagaflow/testing';
import { ReferenceClient } from '../src/client.js';

/** The services the tests started and have not stopped, last first. */
const running: ServiceInMemory<ServiceProcess>[] = [];

/** Stops every service the tests started (in an `afterEach`). */
export async function stopInMemorySystems(): Promise<void> {
  for (const service of running.splice(0).reverse()) await service.stop();
}

/** Builds a reference service on the adapters given. */
export type Build<S extends ServiceProcess> = (
  config: ProcessConfig,
  adapters: AdapterFactory,
) => Promise<S>;

/**
 * Services on one in-memory bus, a client of their HTTP APIs, and a way to put an event on the
 * bus as another service would.
 */
export async function startInMemorySystem<S extends ServiceProcess = EntityServiceProcess>(
  builds: Partial<Record<ServiceName, Build<S>>>,
) {
  let bus: MessagePublisher | undefined;
  let serde: EventSerde | undefined;
  const factory = memoryAdapters({ schemaDirs: referenceSchemaDirs });
  // Each service keeps its store across a stop and a new start, as it would on a database.
  const kept = new Map<string, ServiceAdapters>();
  const adapters: AdapterFactory = async (service, ...rest) => {
    const ports = kept.get(service) ?? (await factory(service, ...rest));
    kept.set(service, ports);
    bus = ports.bus;
    serde = ports.serde;
    return ports;
  };
  const urls: Record<string, string> = Object.fromEntries(serviceNames.map((n) => [n, '']));
  const services: Record<string, ServiceInMemory<S>> = {};
  const client = new ReferenceClient(urls as ConstructorParameters<typeof ReferenceClient>[0]);
  /** Starts a service on the bus: it reads on from where it stopped (at first, from the start). */
  const add = async (name: string, build: Build<S>) => {
    const service = await startServiceInMemory(build, {
      schemaDirs: referenceSchemaDirs,
      adapters,
    });
    running.push(service);
    urls[name] = service.url;
    services[name] = service;
  };
  const pause = async (name: string) => {
    const service = services[name]!;
    running.splice(running.indexOf(service), 1);
    await service.stop();
  };
  for (const [name, build] of Object.entries(builds)) await add(name, build);
  const emit = async (
    type: string,
    from: { entityType: string; entityId: string; sagaId: string },
    payload: Record<string, unknown>,
  ) => {
    const encoded = await serde!.encode(type, payload);
    await bus!.publish([
      eventMessage(
        {
          eventId: newId(),
          type,
          ...from,
          version: 1,
          index: 0,
          payload,
          metadata: { sagaId: from.sagaId, causationId: newId(), service: 'test' },
          occurredAt: new Date().toISOString(),
        },
        encoded.value,
        encoded.schema,
      ),
    ]);
  };
  /** An operator's compensation request, as the admin's saga control publishes it. */
  const requestCompensation = (orderId: string) => {
    const sagaId = sagaIdOf(orderId, 'CHOREOGRAPHY');
    return emit(
      'SagaCompensationRequested',
      { entityType: sagaControl.type, entityId: sagaId, sagaId },
      {
        sagaId,
        sagaType: CHOREOGRAPHY_SAGA,
        businessKey: orderId,
        reason: 'the customer called',
        requestedBy: 'operator',
        requestedAt: new Date().toISOString(),
        steps: [],
      },
    );
  };
  return { client, emit, requestCompensation, services, add, pause };
}
