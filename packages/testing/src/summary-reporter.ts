import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one closing line, `N passed, N failed, N skipped`, that CI can read, and fails the run
 * when a test of a tier that needs real servers (`*.int.test.ts`, `*.e2e.test.ts`) was skipped
 * or left as a todo: a skipped integration test proves nothing.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const skippedReal: string[] = [];
    for (const module of testModules) {
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed += 1;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else {
          skipped += 1;
          if (/\.(int|e2e)\.test\.ts$/.test(module.moduleId)) skippedReal.push(test.fullName);
        }
      }
    }
    if (skippedReal.length > 0) {
      process.stdout.write(
        `\nFAIL: ${skippedReal.length} test(s) against real servers did not run:\n${skippedReal.map((name) => `  - ${name}`).join('\n')}\n`,
      );
      process.exitCode = 1;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
