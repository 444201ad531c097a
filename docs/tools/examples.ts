/**
 * The guides' code examples are regions of real, compiled source files: a Markdown block that
 * follows `<!-- example: <file>#<region> -->` holds the lines between `// #region <region>` and
 * `// #endregion` in that file (relative to the repository, dedented). `pnpm docs:examples`
 * copies each region into its guide; the unit test fails when a guide's block differs from its
 * region, names a file or a region that is not there, so an example cannot drift from the code
 * that the typecheck compiles and the tests run.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const MARKER = /<!-- example: ([^#\s]+)#([\w-]+) -->\n\n?```(\w+)\n([\s\S]*?)```/g;

/** A guide's example: where it is and what it should hold. */
export interface ExampleCheck {
  readonly guide: string;
  readonly source: string;
  readonly region: string;
  /** Why it is wrong, or undefined when it is the region. */
  readonly problem: string | undefined;
}

/** The region's lines, dedented; throws naming the file and the region when either is missing. */
export async function regionOf(root: string, file: string, region: string): Promise<string> {
  const text = await readFile(path.join(root, file), 'utf8').catch(() => {
    throw new Error(`${file} does not exist`);
  });
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${region}`);
  if (start < 0) throw new Error(`${file} has no '// #region ${region}'`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '// #endregion');
  if (end < 0) throw new Error(`${file}: region '${region}' has no '// #endregion'`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(
    ...body.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return `${body.map((l) => l.slice(indent)).join('\n')}\n`;
}

/** The guides (`docs/*.md`), relative to the repository. */
export async function guides(root: string): Promise<string[]> {
  const names = await readdir(path.join(root, 'docs'));
  return names.filter((n) => n.endsWith('.md')).map((n) => path.join('docs', n));
}

/** Checks, or with `write` updates, every example of every guide. */
export async function syncExamples(root: string, write: boolean): Promise<ExampleCheck[]> {
  const checks: ExampleCheck[] = [];
  for (const guide of await guides(root)) {
    const text = await readFile(path.join(root, guide), 'utf8');
    let updated = text;
    for (const match of text.matchAll(MARKER)) {
      const [block, source, region, language, body] = match as unknown as string[];
      let problem: string | undefined;
      try {
        const wanted = await regionOf(root, source!, region!);
        if (wanted !== body) {
          problem = `its block differs from the region (run 'pnpm docs:examples')`;
          updated = updated.replace(
            block!,
            `<!-- example: ${source}#${region} -->\n\n\`\`\`${language}\n${wanted}\`\`\``,
          );
        }
      } catch (error) {
        problem = (error as Error).message;
      }
      checks.push({ guide, source: source!, region: region!, problem });
    }
    if (write && updated !== text) await writeFile(path.join(root, guide), updated);
  }
  return checks;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const checks = await syncExamples(repoRoot, true);
  const broken = checks.filter(
    (c) => c.problem !== undefined && !c.problem.startsWith('its block'),
  );
  for (const c of broken)
    process.stderr.write(`${c.guide}: ${c.source}#${c.region}: ${c.problem}\n`);
  process.stdout.write(
    `${checks.length} example(s) in ${new Set(checks.map((c) => c.guide)).size} guide(s)\n`,
  );
  process.exitCode = broken.length === 0 ? 0 : 1;
}
