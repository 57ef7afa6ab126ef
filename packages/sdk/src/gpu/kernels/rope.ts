/**
 * rope.wgsl — rotate-half RoPE on q and k of the fused q|k|v rows; rotated k and v are appended to
 * the layer's KV cache. One thread per (token, head, two adjacent pairs).
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import { KV_WGSL, type KvDtype } from './formats.js';
import { STEP_BINDING, STEP_WGSL } from './step.js';
import body from './rope.wgsl?raw';

export interface HeadParams {
  headDim: number;
  numHeads: number;
  numKvHeads: number;
  kvDtype: KvDtype;
}

export function headConstants(p: HeadParams): Record<string, number> {
  return { HEAD_DIM: p.headDim, N_HEADS: p.numHeads, N_KV_HEADS: p.numKvHeads };
}

const WG = 64;

export const rope: KernelDescriptor<HeadParams, 'qkv' | 'q' | 'kCache' | 'vCache' | 'step' | 'cos' | 'sin'> = {
  name: 'rope',
  code: (p) => KV_WGSL[p.kvDtype].store + STEP_WGSL + body,
  bindings: () => ({
    qkv: { slot: 0, kind: 'read' },
    q: { slot: 1, kind: 'write' },
    kCache: { slot: 2, kind: 'write' },
    vCache: { slot: 3, kind: 'write' },
    step: STEP_BINDING,
    cos: { slot: 5, kind: 'read' },
    sin: { slot: 6, kind: 'read' },
  }),
  constants: (p) => ({ ...headConstants(p), WG }),
  workgroups: (p, step) => grid1D(Math.ceil((step.tokens * (p.numHeads + 2 * p.numKvHeads) * (p.headDim / 4)) / WG)),
};
