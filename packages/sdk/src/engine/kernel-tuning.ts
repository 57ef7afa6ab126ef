/**
 * `kernels: 'auto'`: the decision and its record, without the GPU. The kernel timings
 * (kernel-timing.ts) give, per step kind, an estimate of each option's time over the whole model;
 * `pickKernels` turns them into a selection, and the record keeps both, keyed by what the timings
 * depend on (adapter, model shape, the candidate kernels' code), so a later load on the same GPU
 * reuses the choice — the same one every time — and a new adapter, model or engine measures again.
 */
import { md5Hex } from '../store/md5.js';
import { STEP_KINDS, type KernelOption, type KernelSelection, type StepKind } from '../gpu/variants.js';

/** Estimated milliseconds per option, per step kind (for the whole model: every layer, one step). */
export type KernelEstimates = Record<StepKind, Record<string, number>>;

/** An option must be faster than an earlier one by more than this fraction to be picked over it. */
export const TIE_FRACTION = 0.03;

/** Bump when the way kernels are measured or chosen changes: older records are then measured again. */
export const TUNING_VERSION = 1;

/**
 * Per step kind, the option with the smallest estimate; an option beats an earlier-listed one only
 * when it is more than TIE_FRACTION faster, so timings that cannot tell options apart keep the
 * earlier (portable) one. Kinds without estimates keep their first option. Deterministic: the same
 * estimates give the same selection.
 */
export function pickKernels(estimates: Partial<KernelEstimates>, options: Record<StepKind, KernelOption[]>): KernelSelection {
  const selection = {} as KernelSelection;
  for (const kind of STEP_KINDS) {
    const times = estimates[kind] ?? {};
    let best: { name: string; ms: number } | undefined;
    for (const option of options[kind]) {
      const ms = times[option.name];
      if (ms === undefined || !Number.isFinite(ms)) continue;
      if (!best || ms < best.ms * (1 - TIE_FRACTION)) best = { name: option.name, ms };
    }
    selection[kind] = best?.name ?? options[kind][0]!.name;
  }
  return selection;
}

/** What `auto` decided for one adapter, model shape and engine, as stored between visits. */
export interface KernelTuningRecord {
  /** tuningKey(): adapter, model shape and the candidate kernels' code. */
  key: string;
  selection: KernelSelection;
  estimates: KernelEstimates;
  /** How the kernels were timed: the adapter's GPU timestamps, or wall-clock time around each submit. */
  clock: 'gpu-timestamps' | 'wall-clock';
  /** Milliseconds the measurement took, compiling the candidates included. */
  measureMs: number;
  /** When it was measured (ISO 8601). */
  measuredAt: string;
  /** For people reading the store: the adapter and the model it was measured for. */
  adapter: string;
  model: string;
}

/** Where `auto` keeps its records: IndexedDB in a tab (store/kernel-choices.ts), a folder for the CLI. */
export interface KernelChoiceStore {
  get(key: string): Promise<KernelTuningRecord | undefined>;
  put(record: KernelTuningRecord): Promise<void>;
}

/** The parts of an adapter's description a choice depends on. */
export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
}

export function adapterIdentity(device: GPUDevice): AdapterIdentity {
  const info = device.adapterInfo;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    // Features that change which kernels exist; timestamp-query only changes how they are timed.
    features: ['shader-f16', 'subgroups'].filter((f) => device.features.has(f)),
  };
}

/**
 * The record key: an MD5 of the adapter's identity, the model's shape and run-time sizes, and the
 * pipeline keys (WGSL code, constants, bindings) of every candidate kernel, so that editing any
 * kernel, or running another model or GPU, measures again. Not a secret: MD5 only names records.
 */
export function tuningKey(adapter: AdapterIdentity, model: object, pipelineKeys: readonly string[]): string {
  const text = JSON.stringify({ version: TUNING_VERSION, adapter, model, pipelines: [...new Set(pipelineKeys)].sort() });
  return md5Hex(new TextEncoder().encode(text));
}

/** A stored record that still fits today's options (a record naming an option that no longer exists is measured again). */
export function usableRecord(record: KernelTuningRecord | undefined, key: string, options: Record<StepKind, KernelOption[]>): record is KernelTuningRecord {
  if (!record || record.key !== key) return false;
  return STEP_KINDS.every((kind) => options[kind].some((o) => o.name === record.selection?.[kind]));
}
