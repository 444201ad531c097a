import { HttpError, parseInput } from '@sagaflow/admin';
import { defineCommandEndpoint } from '@sagaflow/core';
import { referenceNames } from '@sagaflow/reference-contracts';
import {
  countField,
  entityServiceProcess,
  idParam,
  serviceContext,
  type AdapterFactory,
  type EntityServiceProcess,
  type ProcessConfig,
  type ServiceBuildOptions,
} from '@sagaflow/runtime';
import { z } from 'zod';
import { customerEntity, type CustomerState } from './customer.js';
import { paymentProcessor } from './payment-processor.js';
import { paymentSettler } from './payment-settler.js';

/**
 * The payment service: customers and their credit (`payment.customer`). It authorizes an order's
 * total against the customer's credit, in a choreography (its processor) or when the order
 * workflow sends `AuthorizePayment` (its command topic), and releases it on `ReleasePayment`.
 * Routes: `GET` and `PUT /customers/:id` (the credit limit).
 */
export async function buildPaymentService(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<EntityServiceProcess> {
  const names = referenceNames(config.namespace);
  const context = await serviceContext(
    names.service('payment'),
    names.database('payment'),
    config,
    adapters,
    options,
  );
  const customer = customerEntity(names.customer);
  const commands = defineCommandEndpoint({
    entity: customer,
    commands: { AuthorizePayment: 'Authorize', ReleasePayment: 'Release' },
  });
  const view = (customerId: string, state: CustomerState) => ({
    customerId,
    creditLimit: state.creditLimit,
    creditReserved: state.creditReserved,
  });
  return entityServiceProcess(
    context,
    {
      entities: [customer],
      processors: [paymentProcessor(names, customer), paymentSettler(names, customer)],
      commandEndpoints: [commands],
    },
    (app, service) => {
      app.get('/customers/:id', async (req, res) => {
        const id = idParam('id', req.params['id']);
        const { state } = await service.commands.load(customer, id);
        if (!state.known) throw new HttpError(404, 'NOT_FOUND', `no customer '${id}'`, 'id');
        res.json(view(id, state));
      });
      app.put('/customers/:id', async (req, res) => {
        const id = idParam('id', req.params['id']);
        const { creditLimit } = parseInput(
          z.strictObject({ creditLimit: countField('creditLimit', 1_000_000_000_000) }),
          req.body ?? {},
        );
        const result = await service.commands.execute(customer, id, 'SetCredit', { creditLimit });
        if (result.status === 'rejected')
          throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
        res.json(view(id, result.state));
      });
    },
  );
}
