import { expect, it } from 'vitest';
import { clusterIdOf } from '../src/servers/kafka.js';

/*
 * Kafka's StorageTool takes `-t <id>`: an id that starts with '-' is read as an option and the
 * storage format fails ("preparing storage failed"), for 1 state folder in 64 (the id is the
 * base64url of a hash of the folder's path).
 */
it('makes a cluster id of 22 base64url characters that never starts with "-" or "_", the same for a folder every time', () => {
  const ids = Array.from({ length: 2000 }, (_, i) =>
    clusterIdOf({ stateDir: `/tmp/sagaflow-infra-brokers-${i}` }),
  );
  for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
  expect(clusterIdOf({ stateDir: '/tmp/x' })).toBe(clusterIdOf({ stateDir: '/tmp/x' }));
});
