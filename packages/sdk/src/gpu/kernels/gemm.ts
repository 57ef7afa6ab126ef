/**
 * gemm.wgsl — the prefill matrix product for real GPUs: 64-row × 32-token tiles (16 for short batches), whole quantization
 * groups dequantized into workgroup memory, 8×4 outputs per thread in registers. Falls back to
 * matmul.wgsl where rows are not a multiple of 4 columns.
 */
import type { KernelDescriptor } from '../kernel.js';
import { groupConstants, weightedBindings, weightsGroupWgsl, type WeightedBinding } from './formats.js';
import { yStride, type LinearParams } from './matvec.js';
import { STEP_WGSL, wgslConsts } from './step.js';
import body from './gemm.wgsl?raw';

/** Rows per workgroup tile (8×8 threads of 8 rows × TILE_T / 8 tokens). */
export const GEMM_TILE_N = 64;
/** Tokens per tile: 32, or 16 for batches of at most 16 tokens (a chat turn, a short prompt). */
export const GEMM_TILE_T = 32;

export interface GemmParams extends LinearParams {
  tileTokens: 16 | 32;
}

export function gemmFits(p: LinearParams): boolean {
  return p.cols % 4 === 0;
}

export const gemm: KernelDescriptor<GemmParams, WeightedBinding> = {
  name: 'gemm',
  code: (p) => wgslConsts({ TILE_N: GEMM_TILE_N, TILE_T: p.tileTokens, TJ: p.tileTokens / 8 }) + weightsGroupWgsl(p.format, 'f32') + STEP_WGSL + body,
  bindings: (p) => weightedBindings(p.format),
  constants: (p) => ({ ...groupConstants(p), K: p.cols, N: p.rows, Y_STRIDE: yStride(p), ACCUMULATE: p.accumulate ? 1 : 0 }),
  workgroups: (p, step) => [Math.ceil(p.rows / GEMM_TILE_N), Math.ceil(step.tokens / p.tileTokens)],
};
