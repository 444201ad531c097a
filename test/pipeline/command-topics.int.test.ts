import {
  COMMAND_REJECTED,
  commandMessage,
  deadLetterHeaders,
  deadLetterTopic,
  defineCommandEndpoint,
  eventsTopic,
  headerNames,
} from '@sagaflow/core';
import { KafkaBus } from '@sagaflow/kafka';
import { testEnv, uniqueDatabase, uniqueName, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowSchemaDirs, orderFlow } from '../fixtures/order-flow.js';
import { uniqueDomain } from '../fixtures/pipeline.js';
import { realService } from '../fixtures/real-service.js';
import { readTopic, type ReadMessage } from '../fixtures/topic-reader.js';

describe('command topics: each command applied once, answered by events', () => {
  const domain = uniqueDomain();
  const flow = orderFlow(domain);
  const stockCommands = defineCommandEndpoint({
    entity: flow.stock,
    commands: { ReserveStock: 'Reserve', ReleaseStock: 'Release' },
  });
  const orderCommands = defineCommandEndpoint({
    entity: flow.order,
    commands: { ApproveOrder: 'Approve', RejectOrder: 'Reject' },
  });
  const closing: (() => Promise<unknown>)[] = [];
  let sender: KafkaBus;
  let participant: Awaited<ReturnType<typeof realService>>;
  let stockEvents: { messages: ReadMessage[] };
  let orderEvents: { messages: ReadMessage[] };

  const send = async (
    type: string,
    entityType: string,
    entityId: string,
    payload: Record<string, unknown>,
    commandId: string,
  ) => {
    const encoded = await participant.serde.encode(type, payload);
    await sender.publish([
      commandMessage(
        {
          commandId,
          type,
          entityType,
          entityId,
          sagaId: `saga-${commandId}`,
          service: 'orchestrator',
          occurredAt: new Date().toISOString(),
        },
        encoded.value,
        encoded.schema,
      ),
    ]);
  };
  const repliesTo = (events: { messages: ReadMessage[] }, commandId: string) =>
    events.messages.filter((m) => m.headers[headerNames.causationId] === commandId);

  beforeAll(async () => {
    participant = await realService(testEnv(), {
      name: `participant-${domain}`,
      database: uniqueDatabase('commands'),
      schemasDir: flowSchemaDirs,
      entities: [flow.stock, flow.order],
      commandEndpoints: [stockCommands, orderCommands],
    });
    await participant.service.start();
    closing.push(async () => {
      await participant.service.stop();
      await participant.close();
    });
    sender = new KafkaBus({
      brokers: testEnv().kafkaBrokers,
      clientId: uniqueName('sender'),
      logLevel: 'nothing',
    });
    closing.push(() => sender.close());
    const stock = await readTopic(testEnv().kafkaBrokers, eventsTopic(flow.stock.type));
    const order = await readTopic(testEnv().kafkaBrokers, eventsTopic(flow.order.type));
    closing.push(stock.stop, order.stop);
    stockEvents = stock;
    orderEvents = order;
    await participant.service.execute(flow.stock, 'sku-a', 'Set', { available: 10 });
  });

  afterAll(async () => {
    for (const close of closing.reverse()) await close();
  });

  it('applies a command once, however often it is delivered, and answers each delivery with the same events', async () => {
    const reserve = {
      orderId: 'o-1',
      customerId: 'c-1',
      items: [{ sku: 'sku-a', quantity: 3, unitPrice: 100 }],
      total: 300,
    };
    await send('ReserveStock', flow.stock.type, 'sku-a', reserve, 'cmd-1');
    await send('ReserveStock', flow.stock.type, 'sku-a', reserve, 'cmd-1');
    await send('ReserveStock', flow.stock.type, 'sku-a', reserve, 'cmd-1');
    // A later, different command is a marker: once its reply is out, the duplicates were handled.
    await send('ReleaseStock', flow.stock.type, 'sku-a', { orderId: 'o-unknown' }, 'cmd-marker');
    await send('ReserveStock', flow.stock.type, 'sku-a', { ...reserve, orderId: 'o-2' }, 'cmd-2');
    await waitFor(() => repliesTo(stockEvents, 'cmd-2').length > 0, {
      timeoutMs: 30_000,
      description: 'the reply to cmd-2',
    });
    // Applied once; answered each time with the same reply (same event id, same bytes).
    const replies = repliesTo(stockEvents, 'cmd-1');
    expect(replies.map((m) => m.headers[headerNames.eventType])).toEqual([
      'StockReserved',
      'StockReserved',
      'StockReserved',
    ]);
    expect(new Set(replies.map((m) => m.eventId)).size).toBe(1);
    expect(new Set(replies.map((m) => m.value!.toString('hex'))).size).toBe(1);
    expect(replies[0]!.headers[headerNames.sagaId]).toBe('saga-cmd-1');
    // A command with nothing to do is answered too.
    const marker = repliesTo(stockEvents, 'cmd-marker');
    expect(marker.map((m) => m.headers[headerNames.eventType])).toEqual(['CommandAccepted']);
    expect(await participant.serde.decode('CommandAccepted', marker[0]!.value!)).toEqual({
      commandId: 'cmd-marker',
      commandType: 'ReleaseStock',
    });
    const stock = await participant.store.load<{
      available: number;
      reserved: Record<string, number>;
    }>(flow.stock.type, 'sku-a');
    expect(stock?.state).toEqual({ available: 4, reserved: { 'o-1': 3, 'o-2': 3 } });
  });

  it('answers a refused command with CommandRejected, the same each time', async () => {
    await send('ApproveOrder', flow.order.type, 'o-missing', { orderId: 'o-missing' }, 'cmd-3');
    await send('ApproveOrder', flow.order.type, 'o-missing', { orderId: 'o-missing' }, 'cmd-3');
    // Same entity, so same partition: once cmd-4 is answered, both deliveries of cmd-3 were handled.
    await send('ApproveOrder', flow.order.type, 'o-missing', { orderId: 'o-missing' }, 'cmd-4');
    await waitFor(() => repliesTo(orderEvents, 'cmd-4').length > 0, {
      timeoutMs: 30_000,
      description: 'the reply to cmd-4',
    });
    const [reply, ...again] = repliesTo(orderEvents, 'cmd-3');
    expect(again.map((m) => m.eventId)).toEqual([reply!.eventId]);
    expect(reply!.headers[headerNames.eventType]).toBe(COMMAND_REJECTED);
    expect(await participant.serde.decode(COMMAND_REJECTED, reply!.value!)).toEqual({
      commandId: 'cmd-3',
      commandType: 'ApproveOrder',
      reason: 'no such order',
    });
    // Two refusals recorded (cmd-3 once, cmd-4 once); the order itself never changed.
    const order = await participant.store.load<{ status: string }>(flow.order.type, 'o-missing');
    expect(order).toMatchObject({ version: 2, state: { status: 'NEW' } });
  });

  it('dead-letters a command type the entity does not accept', async () => {
    const group = `participant-${domain}.${flow.stock.type}.commands`;
    const letters = await readTopic(testEnv().kafkaBrokers, deadLetterTopic(group));
    closing.push(letters.stop);
    await send('ApproveOrder', flow.stock.type, 'sku-a', { orderId: 'o-1' }, 'cmd-5');
    await waitFor(() => letters.messages.length > 0, {
      timeoutMs: 30_000,
      description: 'the dead letter',
    });
    expect(letters.messages[0]!.headers[deadLetterHeaders.reason]).toMatch(
      new RegExp(
        `${flow.stock.type} accepts no command 'ApproveOrder' \\(accepted: ReserveStock, ReleaseStock\\)`,
      ),
    );
  });

  it('refuses an endpoint naming a command the entity lacks', () => {
    expect(() =>
      defineCommandEndpoint({ entity: flow.stock, commands: { ReserveStock: 'Steal' } }),
    ).toThrow(/commands\.ReserveStock names 'Steal', which .*stock does not have/);
  });
});
