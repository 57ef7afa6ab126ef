/**
 * matvec.wgsl — y (+)= W·x for one token, the portable decode kernel (no subgroups, 4-byte loads):
 * ROWS rows per workgroup, one barrier, one thread per row adds the partial sums. The fallback where
 * matvec_subgroup cannot run, and the "baseline" of the benchmarks.
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import { WEIGHTS_W8_WGSL, weightConstants, weightedBindings, type WeightFormat, type WeightedBinding } from './formats.js';
import { STEP_WGSL, widthFor, wgslConsts } from './step.js';
import body from './matvec.wgsl?raw';

/** A weight matrix's shape and format, and whether the product adds into y (the residual stream). */
export interface LinearParams {
  format: WeightFormat;
  rows: number;
  cols: number;
  accumulate: boolean;
  /**
   * When the matrix is split into bands of rows (limits.ts splitRows) and these params are one
   * band's: the whole matrix's rows, y's row stride. The band's y is bound at its first row.
   */
  outRows?: number;
}

/** The WGSL constant Y_STRIDE of the batched kernels: y's row stride. */
export function yStride(p: LinearParams): number {
  return p.outRows ?? p.rows;
}

/** Output rows per workgroup. */
export const MATVEC_ROWS = 4;

/** Threads per workgroup: one per 8-weight word of a row, 8 to 64 (tiny models get narrow workgroups). */
export function matvecWidth(p: LinearParams): number {
  return widthFor(weightConstants(p)['W_WORDS']!, 8, 64);
}

export const matvec: KernelDescriptor<LinearParams, WeightedBinding> = {
  name: 'matvec',
  code: (p) => wgslConsts({ ROWS: MATVEC_ROWS }) + WEIGHTS_W8_WGSL[p.format] + STEP_WGSL + body,
  bindings: (p) => weightedBindings(p.format),
  constants: (p) => ({ ...weightConstants(p), K: p.cols, N: p.rows, ACCUMULATE: p.accumulate ? 1 : 0, WG: matvecWidth(p) }),
  workgroups: (p) => grid1D(Math.ceil(p.rows / MATVEC_ROWS)),
};
