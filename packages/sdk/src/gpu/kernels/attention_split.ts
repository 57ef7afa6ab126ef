/**
 * attention_split.wgsl + attention_combine.wgsl — decode attention split over the keys
 * (flash-decoding): partial results per (head, chunk of `chunk` keys), then one merge per head. For
 * one query token; prefill uses attention.wgsl.
 */
import type { KernelDescriptor } from '../kernel.js';
import { KV_WGSL } from './formats.js';
import { headConstants, type HeadParams } from './rope.js';
import { STEP_BINDING, STEP_WGSL } from './step.js';
import splitBody from './attention_split.wgsl?raw';
import combineBody from './attention_combine.wgsl?raw';

export interface SplitAttentionParams extends HeadParams {
  /** Keys per workgroup. */
  chunk: number;
  /** KV cache length: sets how many chunks the partials buffer holds per head. */
  contextWindow: number;
}

/** Keys per workgroup by default: 16 chunks at 4,096 positions, 512 workgroups for 32 heads. */
export const DEFAULT_CHUNK = 256;

const WG = 64;

export function maxChunks(p: Pick<SplitAttentionParams, 'chunk' | 'contextWindow'>): number {
  return Math.ceil(p.contextWindow / p.chunk);
}

/** Bytes of the partials buffer: per head and chunk, HEAD_DIM sums, the max and the sum of weights. */
export function partialsBytes(p: SplitAttentionParams): number {
  return p.numHeads * maxChunks(p) * (p.headDim + 2) * 4;
}

function chunkConstants(p: SplitAttentionParams): Record<string, number> {
  return { CHUNK: p.chunk, MAX_CHUNKS: maxChunks(p), WG };
}

export const attentionSplit: KernelDescriptor<SplitAttentionParams, 'q' | 'partials' | 'kCache' | 'vCache' | 'step'> = {
  name: 'attention_split',
  code: (p) => KV_WGSL[p.kvDtype].load + STEP_WGSL + splitBody,
  bindings: () => ({
    q: { slot: 0, kind: 'read' },
    partials: { slot: 1, kind: 'write' },
    kCache: { slot: 2, kind: 'read' },
    vCache: { slot: 3, kind: 'read' },
    step: STEP_BINDING,
  }),
  constants: (p) => ({ ...headConstants(p), ...chunkConstants(p) }),
  // Only the chunks that hold keys: positions 0..startPos.
  workgroups: (p, step) => [p.numHeads, Math.ceil((step.startPos + 1) / p.chunk)],
};

export const attentionCombine: KernelDescriptor<SplitAttentionParams, 'partials' | 'out' | 'step'> = {
  name: 'attention_combine',
  code: () => STEP_WGSL + combineBody,
  bindings: () => ({ partials: { slot: 0, kind: 'read' }, out: { slot: 1, kind: 'write' }, step: STEP_BINDING }),
  constants: (p) => ({ HEAD_DIM: p.headDim, N_HEADS: p.numHeads, ...chunkConstants(p) }),
  workgroups: (p) => [p.numHeads, 1],
};
