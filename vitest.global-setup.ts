/**
 * Builds the `webchuan` package before the tests when its dist/ is missing or older than its sources:
 * browser tests and the e2e run use dist/ as an app would (its workers and wasm exist only there).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SDK = join(import.meta.dirname, 'packages/sdk');

function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
}

export default function setup(): void {
  const built = join(SDK, 'dist/engine-worker.js');
  const sources = Math.max(newest(join(SDK, 'src')), statSync(join(SDK, 'build.mjs')).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  execFileSync('npm', ['run', 'build', '-w', 'webchuan'], { stdio: 'inherit' });
}
