import { eventSerdeContract, testEnv } from '@sagaflow/testing';
import { AvroSerde } from '../src/index.js';

eventSerdeContract(
  'AvroSerde',
  (catalog) => new AvroSerde({ registryUrl: testEnv().schemaRegistryUrl, catalog }),
);
