/**
 * Which kernel runs each operation on a given device. The portable kernels run everywhere and are
 * the "baseline" of the benchmarks; the fast ones were shaped for real GPUs and need what they
 * need (subgroups, shader-f16, rows of a multiple of 4 columns), falling back per matrix otherwise.
 *
 * Which of them is faster depends on the adapter and on the model's shapes (on SwiftShader the
 * subgroup matvec is slower on Baichuan-7B's shapes and faster on a 2048-wide model), so `auto`
 * measures the options of each step kind on the visitor's GPU (engine/kernel-tuning.ts); this file
 * only says what the options are and how a selection of them becomes a KernelChoice.
 */

/**
 * `auto`: measured on this device for this model (engine/kernel-tuning.ts); `fast`: the kernels
 * shaped for real GPUs wherever the device supports them; `baseline`: the portable kernels only.
 */
export type KernelPreference = 'auto' | 'fast' | 'baseline';
export const KERNEL_PREFERENCES: readonly KernelPreference[] = ['auto', 'fast', 'baseline'];

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

/** The steps whose kernel is chosen on its own: each is timed separately by `auto`. */
export type StepKind = 'decodeMatvec' | 'decodeAttention' | 'prefill';
export const STEP_KINDS: readonly StepKind[] = ['decodeMatvec', 'decodeAttention', 'prefill'];

/** One way to run a step kind: its name in reports and records, and the KernelChoice fields it sets. */
export interface KernelOption {
  name: string;
  set: Partial<Omit<KernelChoice, 'preference'>>;
}

/** A name of one option per step kind: what a measurement picks and a record stores. */
export type KernelSelection = Record<StepKind, string>;

const PORTABLE_MATVEC: KernelOption = { name: 'portable', set: { decodeMatvec: 'portable', f16Arithmetic: false } };
const SUBGROUP_MATVEC: KernelOption = { name: 'subgroup', set: { decodeMatvec: 'subgroup', f16Arithmetic: false } };
const SUBGROUP_F16_MATVEC: KernelOption = { name: 'subgroup-f16', set: { decodeMatvec: 'subgroup', f16Arithmetic: true } };

/**
 * The options of each step kind on a device with `features`, portable first: a measurement that
 * cannot tell two options apart keeps the earlier one, so ties are decided the same way every time.
 * `f16Weights`: the model has f16-scaled 4-bit matrices (the only ones half-precision arithmetic applies to).
 */
export function kernelOptions(features: ReadonlySet<string>, f16Weights: boolean): Record<StepKind, KernelOption[]> {
  const subgroups = features.has('subgroups');
  return {
    decodeMatvec: [PORTABLE_MATVEC, ...(subgroups ? [SUBGROUP_MATVEC] : []), ...(subgroups && f16Weights && features.has('shader-f16') ? [SUBGROUP_F16_MATVEC] : [])],
    decodeAttention: [
      { name: 'per-head', set: { decodeAttention: 'per-head' } },
      { name: 'split', set: { decodeAttention: 'split' } },
    ],
    prefill: [
      { name: 'matmul', set: { prefill: 'matmul' } },
      { name: 'gemm', set: { prefill: 'gemm' } },
    ],
  };
}

/** The KernelChoice a selection of option names stands for; throws on a name that is not an option. */
export function choiceOf(selection: KernelSelection, options: Record<StepKind, KernelOption[]>, preference: KernelPreference = 'auto'): KernelChoice {
  const choice: KernelChoice = { preference, decodeMatvec: 'portable', f16Arithmetic: false, decodeAttention: 'per-head', prefill: 'matmul' };
  for (const kind of STEP_KINDS) {
    const option = options[kind].find((o) => o.name === selection[kind]);
    if (!option) throw new Error(`kernels: "${selection[kind]}" is not an option for ${kind} here (${options[kind].map((o) => o.name).join(', ')})`);
    Object.assign(choice, option.set);
  }
  return choice;
}

/** The option names a KernelChoice selects. */
export function selectionOf(choice: KernelChoice): KernelSelection {
  return {
    decodeMatvec: choice.decodeMatvec === 'portable' ? 'portable' : choice.f16Arithmetic ? 'subgroup-f16' : 'subgroup',
    decodeAttention: choice.decodeAttention,
    prefill: choice.prefill,
  };
}

/** A selection as one short name: `portable/per-head/matmul`. */
export function selectionName(selection: KernelSelection): string {
  return STEP_KINDS.map((kind) => selection[kind]).join('/');
}

/** Every combination of options: the candidate kernel sets `bench --kernels all` runs. */
export function candidateSelections(options: Record<StepKind, KernelOption[]>): KernelSelection[] {
  let sets: Partial<KernelSelection>[] = [{}];
  for (const kind of STEP_KINDS) sets = sets.flatMap((s) => options[kind].map((o) => ({ ...s, [kind]: o.name })));
  return sets as KernelSelection[];
}

/** The fixed sets: `baseline` (portable kernels) and `fast` (the real-GPU kernels the device supports). */
export function chooseKernels(features: ReadonlySet<string>, preference: 'fast' | 'baseline' = 'fast'): KernelChoice {
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
