/**
 * The benchmark's own kernels: stream_read.wgsl (the bandwidth probe) and fill_random.wgsl (weights
 * generated in GPU memory). Their CPU twins are streamReadSums and fillRandomWords in reference/kernels.ts.
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import fillBody from './fill_random.wgsl?raw';
import streamBody from './stream_read.wgsl?raw';

export interface StreamReadParams {
  /** vec4<u32> words in the buffer read. */
  words: number;
}

export const STREAM_WG = 256;
export const STREAM_PER_THREAD = 16;

/** Threads the probe runs (the length of its output). */
export function streamThreads(p: StreamReadParams): number {
  const [x, y] = grid1D(Math.ceil(p.words / (STREAM_WG * STREAM_PER_THREAD)));
  return x * y * STREAM_WG;
}

export const streamRead: KernelDescriptor<StreamReadParams, 'data' | 'out'> = {
  name: 'stream_read',
  code: () => streamBody,
  bindings: () => ({ data: { slot: 0, kind: 'read' }, out: { slot: 1, kind: 'write' } }),
  constants: (p) => ({ WG: STREAM_WG, PER_THREAD: STREAM_PER_THREAD, WORDS: p.words }),
  workgroups: (p) => grid1D(Math.ceil(p.words / (STREAM_WG * STREAM_PER_THREAD))),
};

/** 0: raw 32-bit words; 1: two f16 in [lo, hi) per word; 2: one f32 in [lo, hi). */
export type FillMode = 'bits' | 'f16' | 'f32';

export interface FillParams {
  mode: FillMode;
  lo: number;
  hi: number;
  /** u32 words to write (also in the uniform, with the seed, so one pipeline serves every buffer). */
  count: number;
}

/** The uniform's bytes: seed, count. */
export function fillArgs(seed: number, count: number): Uint32Array<ArrayBuffer> {
  return new Uint32Array([seed >>> 0, count]);
}

const FILL_MODES: Record<FillMode, number> = { bits: 0, f16: 1, f32: 2 };

export const fillRandom: KernelDescriptor<FillParams, 'out' | 'args'> = {
  name: 'fill_random',
  code: () => fillBody,
  bindings: () => ({ out: { slot: 0, kind: 'write' }, args: { slot: 1, kind: 'uniform' } }),
  constants: (p) => ({ MODE: FILL_MODES[p.mode], LO: p.lo, HI: p.hi }),
  workgroups: (p) => grid1D(Math.ceil(p.count / 256)),
};
