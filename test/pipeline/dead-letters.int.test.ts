import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  deadLetterHeaders,
  deadLetterTopic,
  defineProcessor,
  eventsTopic,
  headerNames,
  SagaflowError,
} from '@sagaflow/core';
import { testEnv, uniqueDatabase, uniqueName, waitFor } from '@sagaflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  foreignProducer,
  startPipeline,
  uniqueDomain,
  type Pipeline,
} from '../fixtures/pipeline.js';
import { readTopic, type ReadMessage } from '../fixtures/topic-reader.js';

describe('dead letters: nothing crashes the consumer, blocks the partition, or is lost', () => {
  let p: Pipeline;
  let letters: { messages: ReadMessage[]; stop(): Promise<void> };
  const handled: number[] = [];
  const attemptsOf7: number[] = [];
  let topic: string;
  let group: string;

  const envelope = (eventId: string, type = 'Deposited') => ({
    [headerNames.eventId]: eventId,
    [headerNames.eventType]: type,
    [headerNames.schemaSubject]: 'io.sagaflow.test.demo.Deposited',
    [headerNames.schemaVersion]: '1',
    [headerNames.entityType]: p.account.type,
    [headerNames.entityId]: 'acc-raw',
    [headerNames.entityVersion]: '1',
    [headerNames.eventIndex]: '0',
    [headerNames.sagaId]: 'saga-raw',
    [headerNames.causationId]: 'cause-raw',
    [headerNames.service]: 'raw',
    [headerNames.occurredAt]: new Date().toISOString(),
  });

  const letter = (reasonPattern: RegExp) =>
    letters.messages.find((m) => reasonPattern.test(m.headers[deadLetterHeaders.reason] ?? ''));

  beforeAll(async () => {
    p = await startPipeline(testEnv(), { domain: uniqueDomain(), database: uniqueDatabase('dlq') });
    topic = eventsTopic(p.account.type);
    const processor = defineProcessor({
      name: 'picky',
      topics: [topic],
      ignore: [],
      handlers: {
        Deposited: (event) => {
          const { amount } = event.payload as { amount: number };
          if (amount === 13) {
            return Promise.reject(
              new SagaflowError('COMMAND_REJECTED', 'thirteen is refused', { retriable: false }),
            );
          }
          if (amount === 7) {
            attemptsOf7.push(Date.now());
            return Promise.reject(new Error('seven keeps failing'));
          }
          handled.push(amount);
          return Promise.resolve();
        },
      },
    });
    group = p.runtime.groupOf(processor);
    await p.bus.ensureTopics([{ topic: deadLetterTopic(group), partitions: 1 }]);
    letters = await readTopic(testEnv().kafkaBrokers, deadLetterTopic(group));
    await p.startProcessor(processor);
    p.relay.start();
  });

  afterAll(async () => {
    await letters.stop();
    await p.stop();
  });

  it('dead-letters each kind of bad message with its reason, and the partition goes on', async () => {
    const producer = await foreignProducer(testEnv());
    // A writer whose Deposited has a string amount: registered elsewhere, unreadable as ours.
    const foreign = new SchemaRegistry({ host: testEnv().schemaRegistryUrl });
    const { id: foreignId } = await foreign.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: 'record',
          name: 'Deposited',
          namespace: uniqueName('foreign').replaceAll('-', '_'),
          fields: [
            { name: 'accountId', type: 'string' },
            { name: 'amount', type: 'string' },
          ],
        }),
      },
      { subject: uniqueName('foreign-subject') },
    );
    const key = 'acc-raw';
    await producer.send({
      topic,
      messages: [
        { key, value: Buffer.from('not avro at all'), headers: envelope('bad-bytes') },
        {
          key,
          value: Buffer.from([0, 0x7f, 0xff, 0xff, 0x00, 1, 2]),
          headers: envelope('bad-schema-id'),
        },
        {
          key,
          value: await foreign.encode(foreignId, { accountId: 'x', amount: 'lots' }),
          headers: envelope('bad-payload'),
        },
        { key, value: Buffer.from('x'), headers: { [headerNames.eventType]: 'Deposited' } },
      ],
    });
    await producer.disconnect();
    // Through the real path: an event type nobody handles, a terminal and a retriable failure,
    // then a good event on the same entity, hence the same partition.
    await p.entities.execute(p.account, key, 'Flag', {});
    await p.entities.execute(p.account, key, 'Deposit', { amount: 13 });
    await p.entities.execute(p.account, key, 'Deposit', { amount: 7 });
    await p.entities.execute(p.account, key, 'Deposit', { amount: 5 });

    await waitFor(() => handled.includes(5), {
      timeoutMs: 30_000,
      description: 'the good event after the bad ones',
    });
    await waitFor(() => letters.messages.length >= 7, {
      timeoutMs: 15_000,
      description: '7 dead letters',
    });
    expect(letters.messages).toHaveLength(7);

    const bytes = letter(/cannot decode Deposited: not in the Confluent wire format/)!;
    expect(bytes.value!.toString()).toBe('not avro at all');
    expect(bytes.headers).toMatchObject({
      [headerNames.eventId]: 'bad-bytes',
      [deadLetterHeaders.sourceTopic]: topic,
      [deadLetterHeaders.group]: group,
      [deadLetterHeaders.attempts]: '1',
      [deadLetterHeaders.errorCode]: 'SERDE_FAILED',
    });
    expect(bytes.headers[deadLetterHeaders.sourcePartition]).toMatch(/^\d$/);
    expect(bytes.headers[deadLetterHeaders.sourceOffset]).toMatch(/^\d+$/);
    expect(letter(/unknown schema id 2147483392/)?.headers[headerNames.eventId]).toBe(
      'bad-schema-id',
    );
    expect(letter(/cannot read Deposited \(schema id \d+\)/)?.headers[headerNames.eventId]).toBe(
      'bad-payload',
    );
    expect(letter(/malformed envelope: header sagaflow-event-id is missing/)).toBeDefined();
    const unknown = letter(/no handler for the event type 'Flagged'/)!;
    expect(unknown.headers[deadLetterHeaders.errorCode]).toBe('UNKNOWN_EVENT_TYPE');
    expect(await p.serde.decode('Flagged', unknown.value!)).toEqual({ accountId: key });
    const terminal = letter(/thirteen is refused/)!;
    expect(terminal.headers).toMatchObject({
      [deadLetterHeaders.errorCode]: 'COMMAND_REJECTED',
      [deadLetterHeaders.attempts]: '1',
    });
    const exhausted = letter(/seven keeps failing/)!;
    expect(exhausted.headers).toMatchObject({
      [deadLetterHeaders.errorCode]: 'HANDLER_FAILED',
      [deadLetterHeaders.attempts]: '3',
    });
    expect(attemptsOf7).toHaveLength(3);
    expect(handled).toEqual([5]);
  });
});
