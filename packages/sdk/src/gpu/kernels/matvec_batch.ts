/**
 * matvec_batch.wgsl — Y (+)= X·Wᵀ for 2 to TMAX tokens (short prefills: a chat turn after KV reuse,
 * an autocomplete prompt): each weight is read once for all tokens, one barrier per workgroup.
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import { WEIGHTS_W8_WGSL, weightConstants, weightedBindings, type WeightedBinding } from './formats.js';
import { matvecWidth, yStride, type LinearParams } from './matvec.js';
import { STEP_WGSL, wgslConsts } from './step.js';
import body from './matvec_batch.wgsl?raw';

/** Output rows per workgroup. */
export const BATCH_ROWS = 2;
/** Most tokens one dispatch takes. */
export const BATCH_TMAX = 8;

export const matvecBatch: KernelDescriptor<LinearParams, WeightedBinding> = {
  name: 'matvec_batch',
  code: (p) => wgslConsts({ ROWS: BATCH_ROWS, TMAX: BATCH_TMAX }) + WEIGHTS_W8_WGSL[p.format] + STEP_WGSL + body,
  bindings: (p) => weightedBindings(p.format),
  // Its last step needs one thread per (row, token): at least ROWS × TMAX threads.
  constants: (p) => ({ ...weightConstants(p), K: p.cols, N: p.rows, Y_STRIDE: yStride(p), ACCUMULATE: p.accumulate ? 1 : 0, WG: Math.max(BATCH_ROWS * BATCH_TMAX, matvecWidth(p)) }),
  workgroups: (p) => grid1D(Math.ceil(p.rows / BATCH_ROWS)),
};
