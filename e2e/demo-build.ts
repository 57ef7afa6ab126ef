/**
 * The built demo (packages/demo/dist) for the e2e tests, rebuilt only when it is older than what goes
 * into it — the demo's sources, the SDK's build, the models — so files that each need it build it once.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_DIST = join(ROOT, 'packages/demo/dist');

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(join(path, name))), stat.mtimeMs);
}

/** Builds the demo as it ships, unless its dist/ is newer than every input. */
export function buildDemo(): void {
  const built = join(DEMO_DIST, 'index.html');
  const inputs = ['packages/demo/src', 'packages/demo/index.html', 'packages/demo/vite.config.ts', 'packages/sdk/src', 'models/catalog.json'];
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...inputs.map((p) => newest(join(ROOT, p))))) return;
  // NODE_ENV=production: vitest sets NODE_ENV=test, with which Vite would bundle Lit's dev build
  // (and its console warnings) into the demo; the tests drive the demo as it ships.
  execFileSync('npm', ['run', 'build', '-w', '@webchuan/demo'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
}
