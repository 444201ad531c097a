import { createHash } from 'node:crypto';
import { HttpError, parseInput } from '@sagaflow/admin';
import { defineCommandEndpoint, eventsTopic, newId } from '@sagaflow/core';
import { referenceNames, sagaIdOf, totalOf } from '@sagaflow/reference-contracts';
import {
  countField,
  entityServiceProcess,
  idempotencyKeyOf,
  idField,
  idParam,
  serviceContext,
  type AdapterFactory,
  type EntityServiceProcess,
  type ProcessConfig,
  type ServiceBuildOptions,
} from '@sagaflow/runtime';
import { z } from 'zod';
import { orderEntity, type OrderState } from './order.js';
import { orderProcessor } from './order-processor.js';
import {
  ORDERS_BY_CUSTOMER,
  ordersByCustomerView,
  type CustomerOrder,
} from './orders-by-customer.js';

/** The query of a customer's orders. */
const customerOrdersQuery = z.strictObject({
  status: z
    .enum(['PENDING', 'AWAITING_APPROVAL', 'APPROVED', 'REJECTED'], {
      error: 'status must be PENDING, AWAITING_APPROVAL, APPROVED or REJECTED',
    })
    .optional(),
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be an integer')
    .min(1, 'limit must be from 1 to 100')
    .max(100, 'limit must be from 1 to 100')
    .default(20),
  cursor: z.string({ error: 'cursor must be given once' }).max(1000).optional(),
});

const orderBody = z.strictObject({
  customerId: idField('customerId'),
  items: z
    .array(
      z.strictObject({
        sku: idField('sku'),
        quantity: countField('quantity', 1_000_000).min(1, 'quantity must be at least 1'),
        unitPrice: countField('unitPrice', 1_000_000_000),
      }),
      { error: 'items must be an array of {sku, quantity, unitPrice}' },
    )
    .min(1, 'items must hold at least one item')
    .max(100, 'items must hold at most 100 items')
    // The total travels as an Avro long and a JavaScript number: whole numbers past 2^53 are not
    // exact, and the schema refuses them.
    .refine((items) => Number.isSafeInteger(totalOf(items)), {
      error: `items: the order's total must be at most ${Number.MAX_SAFE_INTEGER}`,
    }),
  mode: z
    .enum(['choreography', 'orchestration'], {
      error: "mode must be 'choreography' or 'orchestration'",
    })
    .default('choreography'),
});

/** A person's decision on an order that waits for approval. */
const approvalBody = z.strictObject({
  approved: z.boolean({ error: 'approved must be true or false' }),
  // A person's name, as they are written: spaces and all (no control characters).
  by: z
    .string({ error: 'by must be a string: who decided' })
    .trim()
    .min(1, 'by must name who decided')
    .max(100, 'by must be at most 100 characters')
    .regex(/^[^\p{Cc}]+$/u, 'by must hold no control characters'),
});

/** An order's id: from the Idempotency-Key, so that the same key places the same order. */
function orderIdFor(key: string | undefined): string {
  return key === undefined
    ? `ord-${newId()}`
    : `ord-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/**
 * The causation key of a request with an Idempotency-Key: the key itself, or its digest when the
 * prefixed key would pass the 200 characters a causation key takes.
 */
const causationKeyOf = (key: string): string =>
  key.length <= 195
    ? `http:${key}`
    : `http:sha256:${createHash('sha256').update(key).digest('hex')}`;

/**
 * Refuses a request that reuses an Idempotency-Key with another order than the one it placed
 * (as Stripe's API does): the key would otherwise answer with an order the client did not ask for.
 */
function checkSameOrder(
  key: string,
  placed: Pick<OrderState, 'customerId' | 'items' | 'mode'>,
  asked: Pick<OrderState, 'customerId' | 'items' | 'mode'>,
): void {
  const items = (order: typeof placed) =>
    JSON.stringify(order.items.map(({ sku, quantity, unitPrice }) => [sku, quantity, unitPrice]));
  if (
    placed.customerId !== asked.customerId ||
    placed.mode !== asked.mode ||
    items(placed) !== items(asked)
  ) {
    throw new HttpError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      `the Idempotency-Key '${key}' placed another order: a new order needs a new key`,
      'Idempotency-Key',
    );
  }
}

/**
 * The order service: orders (`orders.order`). `POST /orders` places one `PENDING` in the mode the
 * request chose (its `OrderCreated` starts the choreography, or the orchestrator's workflow);
 * its processor, or the workflow's `ApproveOrder`/`RejectOrder` commands, settle it.
 * A large orchestrated order waits in `AWAITING_APPROVAL` for `POST /orders/:id/approval`.
 * `GET /orders/:id` reads it; `GET /customers/:id/orders` lists a customer's orders, newest first
 * (orders of one millisecond by id), from the service's `orders-by-customer` view.
 */
export async function buildOrderService(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<EntityServiceProcess> {
  const names = referenceNames(config.namespace);
  const context = await serviceContext(
    names.service('order'),
    names.database('order'),
    config,
    adapters,
    options,
  );
  const order = orderEntity(names.order, names.workflow);
  const commands = defineCommandEndpoint({
    entity: order,
    commands: {
      ApproveOrder: 'Approve',
      RejectOrder: 'Reject',
      RequestOrderApproval: 'RequestApproval',
    },
  });
  return entityServiceProcess(
    context,
    {
      entities: [order],
      processors: [orderProcessor(names, order)],
      commandEndpoints: [commands],
      views: [ordersByCustomerView(names)],
      // The order processor reads the workflows' outcomes.
      topics: [eventsTopic(names.workflow)],
    },
    (app, service) => {
      app.post('/orders', async (req, res) => {
        const key = idempotencyKeyOf(req);
        const body = parseInput(orderBody, req.body ?? {});
        const orderId = orderIdFor(key);
        const mode = body.mode === 'orchestration' ? 'ORCHESTRATION' : 'CHOREOGRAPHY';
        const asked = { customerId: body.customerId, items: body.items, mode } as const;
        const result = await service.commands.execute(order, orderId, 'Place', asked, {
          sagaId: sagaIdOf(orderId, mode),
          ...(key === undefined ? {} : { causationKey: causationKeyOf(key) }),
        });
        if (result.status === 'rejected') {
          // The order id comes from the key: an order that exists was placed with this key.
          const existing =
            key === undefined ? undefined : await service.commands.load(order, orderId);
          if (key === undefined || existing === undefined || existing.state.status === 'NEW') {
            throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
          }
          checkSameOrder(key, existing.state, asked);
          res.status(200).json({ orderId, sagaId: sagaIdOf(orderId, existing.state.mode) });
          return;
        }
        if (result.status === 'duplicate' && key !== undefined) {
          checkSameOrder(key, result.state, asked);
        }
        const placedMode = result.status === 'unchanged' ? mode : result.state.mode;
        res
          .status(result.status === 'duplicate' ? 200 : 202)
          .json({ orderId, sagaId: sagaIdOf(orderId, placedMode) });
      });
      // A person's decision on a large order that waits for approval: recorded on the order, and
      // sent to its workflow as the approval signal (through the order's outbox); a second
      // decision is refused (409).
      app.post('/orders/:id/approval', async (req, res) => {
        const orderId = idParam('id', req.params['id']);
        const key = idempotencyKeyOf(req);
        const decision = parseInput(approvalBody, req.body ?? {});
        // Only an orchestrated order waits for approval: the decision is part of its workflow.
        const result = await service.commands.execute(order, orderId, 'Decide', decision, {
          sagaId: sagaIdOf(orderId, 'ORCHESTRATION'),
          ...(key === undefined ? {} : { causationKey: causationKeyOf(key) }),
        });
        if (result.status === 'rejected') {
          const { state } = await service.commands.load(order, orderId);
          if (state.status === 'NEW') {
            throw new HttpError(404, 'NOT_FOUND', `no order '${orderId}'`, 'id');
          }
          throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
        }
        res.status(result.status === 'duplicate' ? 200 : 202).json({ orderId, ...decision });
      });
      app.get('/customers/:id/orders', async (req, res) => {
        const customerId = idParam('id', req.params['id']);
        const { status, limit, cursor } = parseInput(customerOrdersQuery, req.query);
        const page = await service.view<CustomerOrder>(ORDERS_BY_CUSTOMER).query({
          where: { customerId, ...(status === undefined ? {} : { status }) },
          orderBy: 'createdAt',
          direction: 'desc',
          limit,
          ...(cursor === undefined ? {} : { cursor }),
        });
        res.json({
          orders: page.items.map(({ doc }) => ({
            orderId: doc.orderId,
            status: doc.status,
            total: doc.total,
            mode: doc.mode,
            createdAt: doc.createdAt,
          })),
          next: page.next,
        });
      });
      app.get('/orders/:id', async (req, res) => {
        const orderId = idParam('id', req.params['id']);
        const { state } = await service.commands.load(order, orderId);
        if (state.status === 'NEW')
          throw new HttpError(404, 'NOT_FOUND', `no order '${orderId}'`, 'id');
        res.json({
          orderId,
          status: state.status,
          ...(state.rejectionReason === undefined
            ? {}
            : { rejectionReason: state.rejectionReason }),
          total: state.total,
          ...(state.approval === undefined ? {} : { approval: state.approval }),
          sagaId: sagaIdOf(orderId, state.mode),
          customerId: state.customerId,
          items: state.items,
          mode: state.mode === 'ORCHESTRATION' ? 'orchestration' : 'choreography',
        });
      });
    },
  );
}
