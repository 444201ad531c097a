import { expect, it } from 'vitest';
import { loadProcessConfig } from '../src/index.js';

it('reads the named operator tokens and the read-only token of the admin API, naming a bad value', () => {
  const config = loadProcessConfig({
    defaultPort: 0,
    env: {
      ADMIN_TOKEN: 'shared',
      ADMIN_OPERATOR_TOKENS: 'alice=tok-a, bob=tok-b',
      ADMIN_READ_TOKEN: 'viewer',
    },
  });
  expect(config).toMatchObject({
    adminToken: 'shared',
    operatorTokens: { alice: 'tok-a', bob: 'tok-b' },
    readToken: 'viewer',
  });
  expect(loadProcessConfig({ defaultPort: 0, env: {} })).not.toHaveProperty('operatorTokens');
  for (const bad of ['alice', 'alice=a,alice=b', 'a b=tok']) {
    expect(() =>
      loadProcessConfig({ defaultPort: 0, env: { ADMIN_OPERATOR_TOKENS: bad } }),
    ).toThrow(/ADMIN_OPERATOR_TOKENS must be name=token pairs joined by commas/);
  }
});
