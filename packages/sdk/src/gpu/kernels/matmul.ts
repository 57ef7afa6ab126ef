/**
 * matmul.wgsl — Y (+)= X·Wᵀ for a batch of tokens (prefill), the portable tiled kernel: 32 tokens ×
 * 32 rows per workgroup, 4×4 outputs per thread. The fallback for gemm.wgsl and the "baseline".
 */
import type { KernelDescriptor } from '../kernel.js';
import { WEIGHTS_W8_WGSL, weightConstants, weightedBindings, type WeightedBinding } from './formats.js';
import { yStride, type LinearParams } from './matvec.js';
import { STEP_WGSL, wgslConsts } from './step.js';
import body from './matmul.wgsl?raw';

/** Tokens and rows per workgroup tile (8×8 threads of 4×4 outputs). */
export const MATMUL_TILE = 32;

export const matmul: KernelDescriptor<LinearParams, WeightedBinding> = {
  name: 'matmul',
  code: (p) => wgslConsts({ TILE: MATMUL_TILE }) + WEIGHTS_W8_WGSL[p.format] + STEP_WGSL + body,
  bindings: (p) => weightedBindings(p.format),
  constants: (p) => ({ ...weightConstants(p), K: p.cols, N: p.rows, Y_STRIDE: yStride(p), ACCUMULATE: p.accumulate ? 1 : 0 }),
  workgroups: (p, step) => [Math.ceil(p.rows / MATMUL_TILE), Math.ceil(step.tokens / MATMUL_TILE)],
};
