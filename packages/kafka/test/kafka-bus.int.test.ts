import { messageBusContract, testEnv, uniqueName } from '@sagaflow/testing';
import { KafkaBus } from '../src/index.js';

messageBusContract('KafkaBus', () => {
  const clientId = uniqueName('contract');
  return new KafkaBus({
    brokers: testEnv().kafkaBrokers,
    clientId,
    transactionalId: `${clientId}.tx`,
    sessionTimeoutMs: 6000,
    logLevel: 'nothing',
  });
});
