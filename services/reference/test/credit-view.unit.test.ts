import { buildInventoryService } from '@sagaflow/inventory-service';
import { buildOrchestratorService } from '@sagaflow/orchestrator-service';
import { buildOrderService } from '@sagaflow/order-service';
import { buildPaymentService } from '@sagaflow/payment-service';
import { CREDIT_VIEW, sagaIdOf, type CustomerCredit } from '@sagaflow/reference-contracts';
import type { ServiceProcess } from '@sagaflow/runtime';
import { buildShippingService } from '@sagaflow/shipping-service';
import { waitFor } from '@sagaflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { startInMemorySystem, stopInMemorySystems } from './in-memory-system.js';

afterEach(stopInMemorySystems);

type OrchestratorProcess = Awaited<ReturnType<typeof buildOrchestratorService>>;

describe("the orchestrator's view of the customers' credit", () => {
  it('is read by the first step while the payment service is down; the order completes once it is back', async () => {
    const { client, services, add, pause } = await startInMemorySystem<ServiceProcess>({
      order: buildOrderService,
      inventory: buildInventoryService,
      payment: buildPaymentService,
      shipping: buildShippingService,
      orchestrator: buildOrchestratorService,
    });
    const { orchestrator } = services['orchestrator']!.service as OrchestratorProcess;
    const credit = orchestrator.service.view<CustomerCredit>(CREDIT_VIEW);
    await client.setStock('bolts', 10);
    await client.setCredit('c-1', 5_000);
    await waitFor(async () => (await credit.get('c-1'))?.known === true, {
      timeoutMs: 5000,
      description: "the credit view has the customer's limit",
    });
    await pause('payment');
    const { orderId } = await client.placeOrder({
      customerId: 'c-1',
      items: [{ sku: 'bolts', quantity: 2, unitPrice: 150 }],
      mode: 'orchestration',
    });
    // The first step read the credit (the orchestrator's own view) and reserved the stock.
    await waitFor(async () => (await client.stock('bolts')).reserved === 2, {
      timeoutMs: 5000,
      description: 'the stock reserved with the payment service down',
    });
    const workflow = await orchestrator.get(sagaIdOf(orderId, 'ORCHESTRATION'));
    expect(workflow?.views['reserve-stock']?.value).toEqual({
      customerId: 'c-1',
      known: true,
      creditLimit: 5_000,
      creditReserved: 0,
    });
    expect((await client.order(orderId)).status).toBe('PENDING');
    await add('payment', buildPaymentService);
    await waitFor(async () => (await client.order(orderId)).status === 'APPROVED', {
      timeoutMs: 10_000,
      description: 'the order approved once the payment service is back',
    });
    await waitFor(async () => (await credit.get('c-1'))?.creditReserved === 300, {
      timeoutMs: 5000,
      description: 'the credit view counts the authorization',
    });
    expect(await credit.get('c-1')).toMatchObject({ creditLimit: 5_000, authorized: [orderId] });
  });
});
