/**
 * Which kernel runs each operation on a given device. The portable kernels run everywhere and are
 * the "baseline" of the benchmarks; the fast ones were shaped for real GPUs and need what they
 * need (subgroups, shader-f16, rows of a multiple of 4 columns), falling back per matrix otherwise.
 */

/** `fast`: the best kernels the device supports; `baseline`: the portable kernels only. */
export type KernelPreference = 'fast' | 'baseline';

export interface KernelChoice {
  preference: KernelPreference;
  /** Decode matvec: `portable` (matvec.wgsl) or `subgroup` (matvec_subgroup.wgsl, 16-byte loads). */
  decodeMatvec: 'portable' | 'subgroup';
  /** Half-precision arithmetic in the decode matvec for f16-scaled 4-bit weights (shader-f16). */
  f16Arithmetic: boolean;
  /** Decode attention: one workgroup per head (attention.wgsl) or split over the keys (attention_split.wgsl). */
  decodeAttention: 'per-head' | 'split';
  /** Prefill beyond the batched matvec: matmul.wgsl (32×32 tiles) or gemm.wgsl (64×32, group staging). */
  prefill: 'matmul' | 'gemm';
}

export function chooseKernels(features: ReadonlySet<string>, preference: KernelPreference = 'fast'): KernelChoice {
  if (preference === 'baseline') {
    return { preference, decodeMatvec: 'portable', f16Arithmetic: false, decodeAttention: 'per-head', prefill: 'matmul' };
  }
  return {
    preference,
    decodeMatvec: features.has('subgroups') ? 'subgroup' : 'portable',
    f16Arithmetic: features.has('subgroups') && features.has('shader-f16'),
    decodeAttention: 'split',
    prefill: 'gemm',
  };
}
