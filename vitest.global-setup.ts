/**
 * Builds the `webchuan` package before the tests when its dist/ is missing or older than its sources:
 * browser tests and the e2e run use dist/ as an app would (its workers and wasm exist only there).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SDK = join(import.meta.dirname, 'packages/sdk');

function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
}

export default function setup(): () => void {
  // What `kernels: 'auto'` measures in the CLI goes to a folder of this run (the tests and the CLI
  // processes they start inherit it), never to the user's ~/.cache/webchuan.
  const kernelCache = mkdtempSync(join(tmpdir(), 'webchuan-test-cache-'));
  process.env['WEBCHUAN_CACHE_DIR'] = kernelCache;
  const teardown = () => rmSync(kernelCache, { recursive: true, force: true });
  const built = join(SDK, 'dist/engine-worker.js');
  const sources = Math.max(newest(join(SDK, 'src')), statSync(join(SDK, 'build.mjs')).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return teardown;
  execFileSync('npm', ['run', 'build', '-w', 'webchuan'], { stdio: 'inherit' });
  return teardown;
}
