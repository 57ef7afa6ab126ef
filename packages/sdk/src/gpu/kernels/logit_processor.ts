/**
 * logit_processor.wgsl — repetition/presence/frequency penalties and logit bias applied in place,
 * one thread per listed token. `list` holds 16-byte records (id, in_context, generated, bias);
 * `params` the count and the three penalties.
 */
import type { KernelDescriptor } from '../kernel.js';
import body from './logit_processor.wgsl?raw';

const WG = 64;
/** Bytes of one adjustment record and of the params uniform. */
export const ADJUSTMENT_BYTES = 16;
export const LOGIT_PARAMS_BYTES = 16;

/** `capacity`: records the list buffer holds; threads past the params' count do nothing. */
export const logitProcessor: KernelDescriptor<{ capacity: number }, 'list' | 'logits' | 'params'> = {
  name: 'logit_processor',
  code: () => body,
  bindings: () => ({ list: { slot: 0, kind: 'read' }, logits: { slot: 1, kind: 'write' }, params: { slot: 4, kind: 'uniform' } }),
  constants: () => ({}),
  workgroups: (p) => [Math.max(1, Math.ceil(p.capacity / WG)), 1],
};
