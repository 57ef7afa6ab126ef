/** The step uniform shared by every per-token kernel: one WGSL snippet, one binding, one writer. */
import type { Binding, StepShape } from '../kernel.js';
import code from './step.wgsl?raw';

export const STEP_WGSL = code;
/** Where step.wgsl declares the uniform. */
export const STEP_BINDING: Binding = { slot: 4, kind: 'uniform' };
export const STEP_BYTES = 8;

/** The uniform's bytes for `step`. */
export function stepData(step: StepShape): Uint32Array<ArrayBuffer> {
  return new Uint32Array([step.tokens, step.startPos]);
}

/** WGSL `const` declarations for values that size private arrays (which `override` cannot). */
export function wgslConsts(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([name, v]) => `const ${name}: u32 = ${v}u;\n`)
    .join('');
}

/** A power-of-two workgroup width between `min` and `max` that covers `items` (narrow rows get narrow workgroups). */
export function widthFor(items: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, 2 ** Math.ceil(Math.log2(Math.max(1, items)))));
}
