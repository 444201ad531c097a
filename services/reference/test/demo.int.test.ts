import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTsScript } from '@sagaflow/testing/node';
import { expect, it } from 'vitest';

const demo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/demo.ts');

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runTsScript(demo, args, { KAFKA_BROKERS: '', SCHEMA_REGISTRY_URL: '', MONGODB_URL: '', ...env });

it('runs the embedded demo with nothing but Node: a mixed batch settles, invariants hold', async () => {
  const { code, output } = await run(['--exit', '--orders', '40'], { ADMIN_TOKEN: 'demo-token' });
  expect(output).toMatch(/All orders settled in/);
  // Which orders win the scarce stock is a race between the modes: both modes settle, and the
  // invariants (checked by the demo) hold whoever wins.
  expect(output).toMatch(/choreography (APPROVED|REJECTED)/);
  expect(output).toMatch(/orchestration (APPROVED|REJECTED)/);
  // A large order waits for approval, and the demo approves it.
  expect(output).toMatch(/A large order \(1000000 cents, orchestrated\): ord-/);
  expect(output).toMatch(/AWAITING_APPROVAL: its stock and credit are held/);
  expect(output).toMatch(/approved by the demo: APPROVED/);
  expect(output).toMatch(/Invariants: stock, credit and shipments all match the approved orders/);
  expect(output).toMatch(/Authorization: Bearer demo-token/);
  expect(code).toBe(0);
}, 120_000);

it('refuses bad options, naming them', async () => {
  const bad = await run(['--orders', 'many']);
  expect(bad.code).toBe(2);
  expect(bad.output).toMatch(/--orders must be an integer from 1 to 10000 \(got 'many'\)/);
  const infra = await run(['--infra', 'cloud']);
  expect(infra.output).toMatch(/--infra must be 'embedded' or 'local' \(got 'cloud'\)/);
  const replicas = await run(['--replicas', '9']);
  expect(replicas.output).toMatch(/--replicas must be an integer from 1 to 4 \(got '9'\)/);
  const embedded = await run(['--infra', 'embedded', '--replicas', '2']);
  expect(embedded.code).toBe(2);
  expect(embedded.output).toMatch(/--replicas 2 needs --infra local/);
  const threshold = await run(['--exit'], { APPROVAL_THRESHOLD: 'lots' });
  expect(threshold.code).toBe(2);
  expect(threshold.output).toMatch(/APPROVAL_THRESHOLD must be a whole number from 0 to/);
  const unknown = await run(['--colour']);
  expect(unknown.output).toMatch(/Unknown option '--colour'/);
});
