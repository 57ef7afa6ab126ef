/**
 * Error names survive minification: the elements and apps tell a stopped request from a failure by
 * `error.name === 'AbortError'`, and a minifier renames classes (so `new.target.name` alone would say
 * something like `Ue` in a production bundle — a stopped chat reply then showed as a failure).
 */
import { join } from 'node:path';
import { rolldown } from 'rolldown';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { REPO_ROOT } from './helpers.js';

describe('error classes, minified', () => {
  it('keep their names', async () => {
    // Minified as dist/ is (rolldown, the package's own bundler): identifiers renamed, class names not kept.
    const bundle = await rolldown({ input: join(REPO_ROOT, 'packages/sdk/src/errors.ts'), platform: 'browser' });
    const { output } = await bundle.generate({ format: 'es', minify: true });
    await bundle.close();
    const code = output[0].code;
    const minified = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof errors;
    const abort = new minified.AbortError();
    expect(abort.name).toBe('AbortError');
    expect(new minified.NetworkError('offline').name).toBe('NetworkError');
    // Every subclass exported, as it names itself unminified.
    const classes = Object.entries(errors).filter(([name, value]) => typeof value === 'function' && /Error$/.test(name) && name !== 'WebchuanError' && value.prototype instanceof errors.WebchuanError);
    expect(classes.length).toBeGreaterThan(10);
    for (const [name] of classes) {
      const made = tryConstruct((minified as unknown as Record<string, new (...a: unknown[]) => Error>)[name]!);
      expect(made?.name, name).toBe(name);
    }
  });
});

function tryConstruct(C: new (...a: unknown[]) => Error): Error | undefined {
  for (const args of [[], ['x'], ['x', 'y'], ['x', 'y', 'z'], [1, 2, 3]]) {
    try {
      return new C(...args);
    } catch {
      // some constructors need particular arguments; try the next shape
    }
  }
  return undefined;
}
