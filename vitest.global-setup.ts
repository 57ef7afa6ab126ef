/**
 * Builds the `webchuan` package once before the tests: browser tests and the e2e run use its dist/ as
 * an app would (its workers and wasm exist only there).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', 'build', '-w', 'webchuan'], { stdio: 'inherit' });
}
