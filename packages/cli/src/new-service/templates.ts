/** What the templates of a new service are made from. */
export interface ServiceSpec {
  /** The package and folder name, kebab-case, e.g. `loyalty-points`. */
  readonly name: string;
  /** e.g. `LoyaltyPoints`. */
  readonly pascal: string;
  /** The port when `PORT` is not set. */
  readonly port: number;
  /** Versions of the libraries outside the workspace, as the workspace itself depends on them. */
  readonly versions: { readonly tsx: string; readonly vitest: string; readonly zod: string };
}

/** `loyalty-points` → `LoyaltyPoints`. */
export const pascalCase = (name: string) =>
  name
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

const avsc = (spec: ServiceSpec, name: string, doc: string, fields: readonly object[]) =>
  json({
    type: 'record',
    name,
    namespace: `app.${spec.name.replaceAll('-', '_')}`,
    doc,
    fields,
  });

/** The files of `services/<name>/`, by path in that folder (generated types aside). */
export function serviceFiles(spec: ServiceSpec): Record<string, string> {
  const { name, pascal, port } = spec;
  return {
    'package.json': json({
      name,
      version: '0.1.0',
      private: true,
      description: `${pascal}: items opened over HTTP and acknowledged by a processor (made by 'sagaflow new service').`,
      type: 'module',
      exports: { '.': './src/index.ts' },
      scripts: {
        start: 'exec node --import tsx src/main.ts',
        test: `vitest run --root ../.. --project unit --project int services/${name}/`,
        'schemas:generate':
          'sagaflow schemas generate --schemas schemas --out src/generated/types.ts',
      },
      dependencies: {
        '@sagaflow/admin': 'workspace:*',
        '@sagaflow/core': 'workspace:*',
        '@sagaflow/runtime': 'workspace:*',
        tsx: spec.versions.tsx,
        zod: spec.versions.zod,
      },
      devDependencies: {
        '@sagaflow/cli': 'workspace:*',
        '@sagaflow/testing': 'workspace:*',
        vitest: spec.versions.vitest,
      },
    }),
    'README.md': `# ${name}

A sagaflow service made by \`sagaflow new service ${name}\`: one entity, one processor, their Avro
schemas, and tests that run the same scenario in memory and on the real servers.

- \`src/item.ts\`: the **item** entity (type \`${name}.item\`). \`Open\` commits \`ItemOpened\`
  (refused if the item is open already), \`Acknowledge\` commits \`ItemAcknowledged\` once.
- \`src/acknowledger.ts\`: a **processor**, a step of a choreography saga. It reads the item's
  events in its own consumer group and acknowledges every item opened, with an idempotency key:
  an event read twice (after a crash or a rebalance) acknowledges nothing twice.
- \`src/${name}-service.ts\`: the service: its entity, its processor and its HTTP routes,
  \`POST /items/:id\` \`{ "title": "…" }\` (201; 409 if open already; 400 naming a bad field) and
  \`GET /items/:id\` (404 if never opened).
- \`src/main.ts\`: runs it on the real servers when \`KAFKA_BROKERS\`, \`SCHEMA_REGISTRY_URL\` and
  \`MONGODB_URL\` are set, embedded in memory otherwise (\`PORT\`, default ${port}).
- \`schemas/\`: the events' Avro schemas; \`src/generated/types.ts\` is derived from them by
  \`pnpm --filter ${name} schemas:generate\` (never edit it by hand).
- \`test/item-scenario.ts\`: the service's behaviour, run by \`test/${name}.unit.test.ts\` on the
  in-memory adapters and by \`test/${name}.int.test.ts\` on Kafka, the registry and MongoDB.

\`\`\`sh
pnpm --filter ${name} start   # embedded, or on the servers of 'pnpm infra:up' with their env
pnpm --filter ${name} test    # both tiers; finds or starts the real servers itself
\`\`\`
`,
    'schemas/ItemOpened.avsc': avsc(spec, 'ItemOpened', 'An item was opened.', [
      { name: 'itemId', type: 'string' },
      { name: 'title', type: 'string' },
    ]),
    'schemas/ItemAcknowledged.avsc': avsc(spec, 'ItemAcknowledged', 'An item was acknowledged.', [
      { name: 'itemId', type: 'string' },
    ]),
    'src/schemas.ts': `import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlSchemasDir } from '@sagaflow/core';

/** The service's schema catalog: its own \`.avsc\` files and sagaflow's. */
export const schemaDirs = [
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../schemas'),
  controlSchemasDir,
];
`,
    'src/item.ts': `import { defineEntity, reject } from '@sagaflow/core';
import type { SchemaTypes } from './generated/types.js';

/** An item: opened with a title, then acknowledged. */
export interface ItemState {
  /** Whether the item was opened (an item without a commit has the initial state). */
  readonly opened: boolean;
  readonly title: string;
  readonly acknowledged: boolean;
}

/** The item entity; \`type\` names its topics and storage, e.g. \`${name}.item\`. */
export const itemEntity = (type: string) =>
  defineEntity<
    ItemState,
    { Open: { title: string }; Acknowledge: Record<string, never> },
    Pick<SchemaTypes, 'ItemOpened' | 'ItemAcknowledged'>
  >({
    type,
    initialState: () => ({ opened: false, title: '', acknowledged: false }),
    commands: {
      Open: (state, { title }, { entityId }) => {
        if (state.opened) return reject(\`item '\${entityId}' is open already\`);
        return [{ type: 'ItemOpened', payload: { itemId: entityId, title } }];
      },
      // Once: a repeated acknowledgement commits nothing.
      Acknowledge: (state, _command, { entityId }) => {
        if (!state.opened) return reject(\`item '\${entityId}' is not open\`);
        if (state.acknowledged) return [];
        return [{ type: 'ItemAcknowledged', payload: { itemId: entityId } }];
      },
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'ItemOpened':
          return { ...state, opened: true, title: event.payload.title };
        case 'ItemAcknowledged':
          return { ...state, acknowledged: true };
      }
    },
  });

export type ItemEntity = ReturnType<typeof itemEntity>;
`,
    'src/acknowledger.ts': `import { defineProcessor, eventsTopic } from '@sagaflow/core';
import type { SchemaTypes } from './generated/types.js';
import type { ItemEntity } from './item.js';

/**
 * A step of a choreography saga: every item opened is acknowledged. The processor reads the
 * item's events in its own consumer group; its command carries an idempotency key, so an event
 * read again (after a crash or a rebalance) acknowledges nothing twice.
 */
export const acknowledger = (item: ItemEntity) =>
  defineProcessor<SchemaTypes>({
    name: 'acknowledger',
    topics: [eventsTopic(item.type)],
    handlers: {
      ItemOpened: async ({ payload }, ctx) => {
        await ctx.execute(
          item,
          payload.itemId,
          'Acknowledge',
          {},
          { idempotencyKey: \`acknowledge:\${payload.itemId}\` },
        );
      },
    },
    ignore: ['ItemAcknowledged'],
  });
`,
    [`src/${name}-service.ts`]: `import { HttpError, parseInput } from '@sagaflow/admin';
import {
  entityServiceProcess,
  idParam,
  serviceContext,
  type AdapterFactory,
  type EntityServiceProcess,
  type ProcessConfig,
  type ServiceBuildOptions,
} from '@sagaflow/runtime';
import { z } from 'zod';
import { acknowledger } from './acknowledger.js';
import { itemEntity, type ItemState } from './item.js';

/** The service's names; a namespace (\`SAGAFLOW_NAMESPACE\`, tests give one) prefixes them. */
export function ${lowerFirst(pascal)}Names(namespace: string) {
  const prefix = namespace === '' ? '' : \`\${namespace}.\`;
  return {
    service: namespace === '' ? '${name}-service' : \`\${namespace}-${name}-service\`,
    database: \`\${namespace === '' ? 'sagaflow' : namespace}_${name.replaceAll('-', '_')}\`,
    item: \`\${prefix}${name}.item\`,
  };
}

const view = (itemId: string, state: ItemState) => ({
  itemId,
  title: state.title,
  acknowledged: state.acknowledged,
});

/**
 * The ${name} service: items (\`${name}.item\`), acknowledged by the acknowledger. Routes:
 * \`POST /items/:id\` \`{ title }\` opens one (201; 409 if open already), \`GET /items/:id\` reads it.
 */
export async function build${pascal}Service(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<EntityServiceProcess> {
  const names = ${lowerFirst(pascal)}Names(config.namespace);
  const context = await serviceContext(names.service, names.database, config, adapters, options);
  const item = itemEntity(names.item);
  return entityServiceProcess(
    context,
    { entities: [item], processors: [acknowledger(item)] },
    (app, service) => {
      app.post('/items/:id', async (req, res) => {
        const id = idParam('id', req.params['id']);
        const { title } = parseInput(
          z.strictObject({ title: z.string().trim().min(1, 'must not be empty').max(200) }),
          req.body ?? {},
        );
        const result = await service.commands.execute(item, id, 'Open', { title });
        if (result.status === 'rejected') {
          throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
        }
        res.status(201).json(view(id, result.state));
      });
      app.get('/items/:id', async (req, res) => {
        const id = idParam('id', req.params['id']);
        const { state } = await service.commands.load(item, id);
        if (!state.opened) throw new HttpError(404, 'NOT_FOUND', \`no item '\${id}'\`, 'id');
        res.json(view(id, state));
      });
    },
  );
}
`,
    'src/main.ts': `import { runServiceMain } from '@sagaflow/runtime';
import { build${pascal}Service } from './${name}-service.js';
import { schemaDirs } from './schemas.js';

await runServiceMain({
  name: '${name}-service',
  defaultPort: ${port},
  schemaDirs,
  build: build${pascal}Service,
});
`,
    'src/index.ts': `export { acknowledger } from './acknowledger.js';
export { itemEntity } from './item.js';
export type { ItemEntity, ItemState } from './item.js';
export { build${pascal}Service, ${lowerFirst(pascal)}Names } from './${name}-service.js';
export { schemaDirs } from './schemas.js';
`,
    'test/item-scenario.ts': `import type { EntityServiceProcess } from '@sagaflow/runtime';
import { waitFor, type ServiceInMemory } from '@sagaflow/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

/**
 * The service's behaviour, run by the unit tier on the in-memory adapters and by the
 * integration tier on the real servers: one scenario, two sets of adapters.
 */
export function itemScenario(start: () => Promise<ServiceInMemory<EntityServiceProcess>>) {
  let running: ServiceInMemory<EntityServiceProcess>;
  beforeAll(async () => {
    running = await start();
  });
  afterAll(() => running?.stop());

  const open = (id: string, body: unknown) =>
    fetch(\`\${running.url}/items/\${id}\`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const read = async (id: string) => {
    const response = await fetch(\`\${running.url}/items/\${id}\`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('opens an item, which the processor then acknowledges', async () => {
    const opened = await open('item-1', { title: 'first' });
    expect(opened.status).toBe(201);
    expect(await opened.json()).toEqual({ itemId: 'item-1', title: 'first', acknowledged: false });
    await waitFor(async () => (await read('item-1')).body['acknowledged'] === true, {
      timeoutMs: 30_000,
      description: 'item-1 acknowledged',
    });
  });

  it('refuses to open an item twice (409), bad input (400 naming the field), and an unknown item (404)', async () => {
    expect((await open('item-2', { title: 'second' })).status).toBe(201);
    const again = await open('item-2', { title: 'second' });
    expect(again.status).toBe(409);
    const bad = await open('item-3', { title: '' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('title');
    const unknown = await open('item-3', { title: 'x', colour: 'red' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { field: string } }).error.field).toBe('colour');
    expect((await read('nobody')).status).toBe(404);
  });
}
`,
    [`test/${name}.unit.test.ts`]: `import { startServiceInMemory } from '@sagaflow/testing';
import { describe } from 'vitest';
import { build${pascal}Service } from '../src/${name}-service.js';
import { schemaDirs } from '../src/schemas.js';
import { itemScenario } from './item-scenario.js';

describe('${name} service (in memory)', () => {
  itemScenario(() => startServiceInMemory(build${pascal}Service, { schemaDirs }));
});
`,
    [`test/${name}.int.test.ts`]: `import { startServiceOnServers } from '@sagaflow/testing';
import { describe } from 'vitest';
import { build${pascal}Service } from '../src/${name}-service.js';
import { schemaDirs } from '../src/schemas.js';
import { itemScenario } from './item-scenario.js';

describe('${name} service (Kafka, the schema registry, MongoDB)', () => {
  itemScenario(() => startServiceOnServers(build${pascal}Service, { schemaDirs }));
});
`,
  };
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);
