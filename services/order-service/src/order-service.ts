import { createHash } from 'node:crypto';
import { HttpError, parseInput } from '@sagaflow/admin';
import { defineCommandEndpoint, eventsTopic, newId } from '@sagaflow/core';
import { referenceNames, sagaIdOf } from '@sagaflow/reference-contracts';
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
import { orderEntity } from './order.js';
import { orderProcessor } from './order-processor.js';

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
    .max(100, 'items must hold at most 100 items'),
  mode: z
    .enum(['choreography', 'orchestration'], {
      error: "mode must be 'choreography' or 'orchestration'",
    })
    .default('choreography'),
});

/** An order's id: from the Idempotency-Key, so that the same key places the same order. */
function orderIdFor(key: string | undefined): string {
  return key === undefined
    ? `ord-${newId()}`
    : `ord-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/**
 * The order service: orders (`orders.order`). `POST /orders` places one `PENDING` in the mode the
 * request chose (its `OrderCreated` starts the choreography, or the orchestrator's workflow);
 * its processor, or the workflow's `ApproveOrder`/`RejectOrder` commands, settle it.
 * `GET /orders/:id` reads it.
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
  const order = orderEntity(names.order);
  const commands = defineCommandEndpoint({
    entity: order,
    commands: { ApproveOrder: 'Approve', RejectOrder: 'Reject' },
  });
  return entityServiceProcess(
    context,
    {
      entities: [order],
      processors: [orderProcessor(names, order)],
      commandEndpoints: [commands],
      // The order processor reads the workflows' outcomes.
      topics: [eventsTopic(names.workflow)],
    },
    (app, service) => {
      app.post('/orders', async (req, res) => {
        const key = idempotencyKeyOf(req);
        const body = parseInput(orderBody, req.body ?? {});
        const orderId = orderIdFor(key);
        const mode = body.mode === 'orchestration' ? 'ORCHESTRATION' : 'CHOREOGRAPHY';
        const result = await service.commands.execute(
          order,
          orderId,
          'Place',
          { customerId: body.customerId, items: body.items, mode },
          {
            sagaId: sagaIdOf(orderId, mode),
            ...(key === undefined ? {} : { causationKey: `http:${key}` }),
          },
        );
        if (result.status === 'rejected') {
          // The order id comes from the key: an order that exists was placed with this key.
          const existing =
            key === undefined ? undefined : await service.commands.load(order, orderId);
          if (existing === undefined || existing.state.status === 'NEW') {
            throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
          }
          res.status(200).json({ orderId, sagaId: sagaIdOf(orderId, existing.state.mode) });
          return;
        }
        const placedMode = result.status === 'unchanged' ? mode : result.state.mode;
        res
          .status(result.status === 'duplicate' ? 200 : 202)
          .json({ orderId, sagaId: sagaIdOf(orderId, placedMode) });
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
          sagaId: sagaIdOf(orderId, state.mode),
          customerId: state.customerId,
          items: state.items,
          mode: state.mode === 'ORCHESTRATION' ? 'orchestration' : 'choreography',
        });
      });
    },
  );
}
