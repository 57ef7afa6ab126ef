/**
 * attention.wgsl — causal attention over the KV cache with an online softmax, one workgroup per
 * (token, head): the prefill kernel, and the portable decode kernel (fallback of attention_split).
 */
import type { KernelDescriptor } from '../kernel.js';
import { KV_WGSL } from './formats.js';
import { headConstants, type HeadParams } from './rope.js';
import { STEP_BINDING, STEP_WGSL } from './step.js';
import body from './attention.wgsl?raw';

export type AttentionBinding = 'q' | 'out' | 'kCache' | 'vCache' | 'step';

export const attention: KernelDescriptor<HeadParams, AttentionBinding> = {
  name: 'attention',
  code: (p) => KV_WGSL[p.kvDtype].load + STEP_WGSL + body,
  bindings: () => ({
    q: { slot: 0, kind: 'read' },
    out: { slot: 1, kind: 'write' },
    kCache: { slot: 2, kind: 'read' },
    vCache: { slot: 3, kind: 'read' },
    step: STEP_BINDING,
  }),
  constants: (p) => headConstants(p),
  workgroups: (p, step) => [p.numHeads, step.tokens],
};
