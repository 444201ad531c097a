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
import { inventoryProcessor } from './inventory-processor.js';
import { inventorySettler } from './inventory-settler.js';
import { reservationEntity } from './reservation.js';
import { reservedOf, stockEntity, type StockState } from './stock.js';

/**
 * The inventory service: stock per SKU (`inventory.stock`) and each order's reservation
 * (`inventory.reservation`). It reserves an order's stock in a choreography (its processor) or
 * when the order workflow sends `ReserveStock`, and releases it on `ReleaseStock`.
 * Routes: `GET` and `PUT /stock/:sku`.
 */
export async function buildInventoryService(
  config: ProcessConfig,
  adapters: AdapterFactory,
  options: ServiceBuildOptions = {},
): Promise<EntityServiceProcess> {
  const names = referenceNames(config.namespace);
  const context = await serviceContext(
    names.service('inventory'),
    names.database('inventory'),
    config,
    adapters,
    options,
  );
  const stock = stockEntity(names.stock);
  const reservation = reservationEntity(names.reservation);
  const commands = defineCommandEndpoint({
    entity: reservation,
    commands: { ReserveStock: 'Request', ReleaseStock: 'Release' },
  });
  const view = (sku: string, state: StockState) => ({
    sku,
    available: state.available,
    reserved: reservedOf(state),
  });
  return entityServiceProcess(
    context,
    {
      entities: [stock, reservation],
      processors: [
        inventoryProcessor(names, { stock, reservation }),
        inventorySettler(names, stock),
      ],
      commandEndpoints: [commands],
    },
    (app, service) => {
      app.get('/stock/:sku', async (req, res) => {
        const sku = idParam('sku', req.params['sku']);
        const snapshot = await service.commands.load(stock, sku);
        if (snapshot.version === 0)
          throw new HttpError(404, 'NOT_FOUND', `no stock of '${sku}'`, 'sku');
        res.json(view(sku, snapshot.state));
      });
      app.put('/stock/:sku', async (req, res) => {
        const sku = idParam('sku', req.params['sku']);
        const { available } = parseInput(
          z.strictObject({ available: countField('available', 1_000_000_000) }),
          req.body ?? {},
        );
        const result = await service.commands.execute(stock, sku, 'Set', { available });
        if (result.status === 'rejected')
          throw new HttpError(409, 'COMMAND_REJECTED', result.rejection.reason);
        res.json(view(sku, result.state));
      });
    },
  );
}
