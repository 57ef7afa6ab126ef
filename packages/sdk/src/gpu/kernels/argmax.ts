/** argmax.wgsl — the index of the largest logit (lowest among equals), one workgroup. */
import type { KernelDescriptor } from '../kernel.js';
import body from './argmax.wgsl?raw';

export const argmax: KernelDescriptor<{ vocab: number }, 'logits' | 'result'> = {
  name: 'argmax',
  code: () => body,
  bindings: () => ({ logits: { slot: 0, kind: 'read' }, result: { slot: 1, kind: 'write' } }),
  constants: (p) => ({ V: p.vocab }),
  workgroups: () => [1, 1],
};
