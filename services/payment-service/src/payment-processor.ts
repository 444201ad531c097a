import { defineProcessor, eventsTopic } from '@sagaflow/core';
import {
  isWorkflowSaga,
  type ReferenceNames,
  type ReferencePayloads,
} from '@sagaflow/reference-contracts';
import type { CustomerEntity } from './customer.js';

/** The causation key of an order's one payment decision in a choreography. */
const authorizeKey = (orderId: string) => `authorize:${orderId}`;

// #region payment-processor
/**
 * The payment's part in the choreography: authorizes an order's total once its stock is
 * reserved, and releases what it authorized when the order is cancelled (its saga's compensation
 * was requested). A cancelled order is released even before its payment was asked: the customer
 * keeps it released, so an authorization that comes later is refused. (Orchestrated orders reach
 * the customer through its command topic instead.)
 */
export const paymentProcessor = (names: ReferenceNames, customer: CustomerEntity) =>
  defineProcessor<ReferencePayloads>({
    name: 'payment',
    topics: [eventsTopic(names.reservation), eventsTopic(names.order)],
    filter: (e) => !isWorkflowSaga(e.sagaId),
    handlers: {
      // One decision per order: the causation key `authorize:<orderId>`.
      StockReserved: async ({ payload }, ctx) => {
        await ctx.execute(
          customer,
          payload.customerId,
          'Authorize',
          { orderId: payload.orderId, customerId: payload.customerId, amount: payload.total },
          { idempotencyKey: authorizeKey(payload.orderId) },
        );
      },
      // A release before the authorization takes its key (the authorization that comes later is
      // a duplicate of the release, and authorizes nothing); after it, it gives it back once.
      OrderRejected: async ({ payload }, ctx) => {
        if (!payload.cancelled || payload.customerId === '') return;
        const command = { orderId: payload.orderId, customerId: payload.customerId };
        const release = () =>
          ctx.execute(customer, payload.customerId, 'Release', command, {
            idempotencyKey: `release:${payload.orderId}`,
          });
        // Authorized (as the state last seen says): released once, at once. Asking with the
        // authorize key first would find it taken: a duplicate, which costs the store a look-up by
        // key (a scan on FerretDB) when this process has not seen the authorization's commit.
        const { state } = await ctx.load(customer, payload.customerId);
        if (state.orders[payload.orderId]?.status === 'AUTHORIZED') {
          await release();
          return;
        }
        const first = await ctx.execute(customer, payload.customerId, 'Release', command, {
          idempotencyKey: authorizeKey(payload.orderId),
        });
        if (
          first.status === 'duplicate' &&
          first.events.some((e) => e.type === 'PaymentAuthorized')
        ) {
          await release();
        }
      },
    },
    ignore: [
      'StockReservationRequested',
      'StockReservationFailed',
      'StockReleased',
      'OrderCreated',
      'OrderApproved',
    ],
  });
// #endregion
