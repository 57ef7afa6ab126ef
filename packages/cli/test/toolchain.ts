import { missingToolchainPrerequisites } from '../src/compile-lib.js';

/**
 * Whether tests may compile model libraries with TVM here. Without the system pieces the toolchain
 * needs, the caller's tests are skipped with a notice naming them — except under CI=true, where that
 * is a failure.
 */
export function canCompileLibs(who: string): boolean {
  const missing = missingToolchainPrerequisites();
  if (missing.length === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but the TVM toolchain cannot be made: no ${missing.join(', no ')}`);
  console.warn(`[skip] ${who}: no ${missing.join(', no ')}: what needs a TVM-compiled library is skipped`);
  return false;
}
