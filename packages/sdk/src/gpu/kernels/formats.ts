/**
 * The storage formats kernels read through: weight matrices (float32, or 4-bit groups with f32 or
 * f16 scales) and the KV cache (f32 or packed f16). Each is a WGSL snippet that declares its bindings
 * and access functions; a kernel's descriptor puts the right one in front of the kernel's own WGSL.
 */
import { groupsPerRow, wordsPerRow } from '../../model/quant.js';
import type { Binding } from '../kernel.js';
import { STEP_BINDING } from './step.js';
import arithF16 from './arith_f16.wgsl?raw';
import arithF32 from './arith_f32.wgsl?raw';
import kvLoadF16 from './kv_load_f16.wgsl?raw';
import kvLoadF32 from './kv_load_f32.wgsl?raw';
import kvStoreF16 from './kv_store_f16.wgsl?raw';
import kvStoreF32 from './kv_store_f32.wgsl?raw';
import scalesF16 from './scales_f16.wgsl?raw';
import scalesF32 from './scales_f32.wgsl?raw';
import weightsF32 from './weights_f32.wgsl?raw';
import weightsF32Groups from './weights_f32_groups.wgsl?raw';
import weightsQ4 from './weights_q4.wgsl?raw';
import weightsQ4Groups from './weights_q4_groups.wgsl?raw';

/** How a matrix's weights are stored on the GPU. */
export type WeightFormat = 'f32' | 'q4f32' | 'q4f16';

/** Eight weights per call (`load_w8`): what the portable kernels read through. */
export const WEIGHTS_W8_WGSL: Record<WeightFormat, string> = {
  f32: weightsF32,
  q4f32: scalesF32 + weightsQ4,
  q4f16: scalesF16 + weightsQ4,
};

/** A whole 32-column group per call (`group_dot`, `group_values`): what the fast kernels read through. */
export function weightsGroupWgsl(format: WeightFormat, arithmetic: 'f32' | 'f16'): string {
  const arith = arithmetic === 'f16' ? arithF16 : arithF32;
  if (format === 'f32') return arith + weightsF32Groups;
  return arith + (format === 'q4f16' ? scalesF16 : scalesF32) + weightsQ4Groups;
}

/** WGSL override constants the `load_w8` snippets declare for a matrix. */
export function weightConstants(m: { format: WeightFormat; cols: number }): Record<string, number> {
  return m.format === 'f32'
    ? { W_WORDS: Math.ceil(m.cols / 8), W_COLS: m.cols }
    : { W_WORDS: wordsPerRow(m.cols), W_GROUPS: groupsPerRow(m.cols) };
}

/** WGSL override constants the group snippets declare for a matrix. */
export function groupConstants(m: { format: WeightFormat; cols: number }): Record<string, number> {
  return m.format === 'f32' ? { W_GROUPS: groupsPerRow(m.cols), W_COLS: m.cols } : { W_GROUPS: groupsPerRow(m.cols) };
}

/** The bindings of every kernel that multiplies by a weight matrix (they share one bind group). */
export type WeightedBinding = 'x' | 'y' | 'weights' | 'scales' | 'step';

export function weightedBindings(format: WeightFormat): Partial<Record<WeightedBinding, Binding>> {
  return {
    x: { slot: 0, kind: 'read' },
    y: { slot: 1, kind: 'write' },
    weights: { slot: 2, kind: 'read' },
    ...(format === 'f32' ? {} : { scales: { slot: 3, kind: 'read' } }),
    step: STEP_BINDING,
  };
}

/** How the KV cache is stored: float32, or half floats packed two per u32. */
export type KvDtype = 'f32' | 'f16';

/** KV formats: `store` for rope.wgsl (store_k2, store_v2), `load` for the attention kernels (load_k2, load_v). */
export const KV_WGSL: Record<KvDtype, { store: string; load: string }> = {
  f32: { store: kvStoreF32, load: kvLoadF32 },
  f16: { store: kvStoreF16, load: kvLoadF16 },
};

/** Bytes per cached key or value. */
export function kvBytes(dtype: KvDtype): number {
  return dtype === 'f16' ? 2 : 4;
}
