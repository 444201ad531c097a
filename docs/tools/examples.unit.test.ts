import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guides, repoRoot, syncExamples } from './examples.js';

describe("the guides' examples", () => {
  it('are the regions of compiled source files they name', async () => {
    const checks = await syncExamples(repoRoot, false);
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.filter((c) => c.problem !== undefined)).toEqual([]);
  });

  it('are all TypeScript blocks of the guides (none is written by hand)', async () => {
    const loose: string[] = [];
    for (const guide of await guides(repoRoot)) {
      const lines = (await readFile(path.join(repoRoot, guide), 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (line === '```ts' && !/^<!-- example: \S+#[\w-]+ -->$/.test(lines[i - 2] ?? '')) {
          loose.push(`${guide}:${i + 1}`);
        }
      });
    }
    expect(loose).toEqual([]);
  });
});
