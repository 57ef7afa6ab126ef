/**
 * token_mask.wgsl — a grammar's allowed-token bitmask applied to the logits in place, one thread per
 * vocabulary id: ⌈vocab / 32⌉ mask words are uploaded each step (2,000 words, 8 KB, for Baichuan-7B's
 * 64,000 tokens), and nothing more is read back than without it.
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import body from './token_mask.wgsl?raw';

const WG = 256;

/** Words of the mask of a `vocab`-token vocabulary. */
export const maskWords = (vocab: number): number => Math.ceil(vocab / 32);

export const tokenMask: KernelDescriptor<{ vocab: number }, 'mask' | 'logits'> = {
  name: 'token_mask',
  code: () => body,
  bindings: () => ({ mask: { slot: 0, kind: 'read' }, logits: { slot: 1, kind: 'write' } }),
  constants: (p) => ({ V: p.vocab }),
  workgroups: (p) => grid1D(Math.ceil(p.vocab / WG)),
};
