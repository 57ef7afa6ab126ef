/**
 * A reporter printing, after the run, each lane's counts (the vitest projects of vite.config.ts:
 * which GPU and browser the tests ran on), its time, and every test it skipped — so CI's output shows
 * at a glance that the lavapipe lane ran the f16 kernels and the Firefox lane ran at all.
 */
import type { Reporter, TestModule } from 'vitest/node';

interface LaneCount {
  files: number;
  /** Tests of the lane's files that a name pattern leaves out (the lane's own, or -t): not skips. */
  elsewhere: number;
  passed: number;
  failed: number;
  skipped: number;
  ms: number;
  skippedNames: string[];
}

export default class LanesReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lanes = new Map<string, LaneCount>();
    for (const module of modules) {
      const name = module.project.name || 'default';
      const pattern = module.project.config.testNamePattern;
      const lane = lanes.get(name) ?? { files: 0, elsewhere: 0, passed: 0, failed: 0, skipped: 0, ms: 0, skippedNames: [] };
      lane.files++;
      lane.ms += module.diagnostic().duration;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        // vitest matches the pattern against the names of the describes and the test joined by spaces.
        if (pattern && state === 'skipped' && !pattern.test(test.fullName.split(' > ').join(' '))) lane.elsewhere++;
        else if (state === 'passed') lane.passed++;
        else if (state === 'failed') lane.failed++;
        else {
          lane.skipped++;
          lane.skippedNames.push(`${module.relativeModuleId} > ${test.fullName}`);
        }
      }
      lanes.set(name, lane);
    }
    const lines = ['', 'Lanes:'];
    for (const [name, l] of lanes) {
      lines.push(`  ${name.padEnd(12)} ${l.files} files, ${l.passed} passed, ${l.failed} failed, ${l.skipped} skipped, ${(l.ms / 1000).toFixed(0)} s${l.elsewhere ? ` (${l.elsewhere} tests of these files left out by name)` : ''}`);
      for (const skipped of l.skippedNames.slice(0, 20)) lines.push(`      skipped: ${skipped}`);
      if (l.skippedNames.length > 20) lines.push(`      … and ${l.skippedNames.length - 20} more`);
    }
    console.log(lines.join('\n'));
  }
}
