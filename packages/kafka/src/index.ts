/**
 * Kafka adapter of sagaflow, on kafkajs: {@link KafkaBus} publishes batches as Kafka
 * transactions and runs consumer groups that commit offsets only after handling.
 *
 * @example
 * ```ts
 * import { KafkaBus } from '@sagaflow/kafka';
 *
 * const bus = new KafkaBus({ brokers: ['127.0.0.1:9092'], clientId: 'inventory-service' });
 * await bus.ensureTopics([{ topic: 'inventory.stock.events', partitions: 3 }]);
 * ```
 * @module
 */
export { CHECKPOINT_TOPIC, KafkaBus } from './kafka-bus.js';
export type { KafkaBusOptions } from './kafka-bus.js';
export { describeTopics } from './topic-inspector.js';
export type {
  DescribeTopicsOptions,
  GroupLag,
  PartitionDescription,
  TopicDescription,
} from './topic-inspector.js';
