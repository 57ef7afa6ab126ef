/**
 * `kernels: 'auto'` without a GPU: the options each device offers, the pure decision from timings to
 * a selection (timings are given here, as a fake clock would give them; the measuring itself runs on
 * a real device in packages/cli/test/kernel-choice.test.ts), and the record key that makes a new
 * adapter, model or kernel measure again.
 */
import { describe, expect, it } from 'vitest';
import { adapterIdentity, pickKernels, TIE_FRACTION, tuningKey, usableRecord, type KernelTuningRecord } from '../src/engine/kernel-tuning.js';
import { candidateSelections, choiceOf, chooseKernels, kernelOptions, selectionOf, STEP_KINDS } from '../src/gpu/variants.js';

const ALL = new Set(['subgroups', 'shader-f16', 'timestamp-query']);

describe('kernel options', () => {
  it('offer the subgroup matvec only with subgroups, and f16 arithmetic only with shader-f16 and f16-scaled weights', () => {
    const names = (features: Set<string>, f16: boolean) => kernelOptions(features, f16).decodeMatvec.map((o) => o.name);
    expect(names(new Set(), true)).toEqual(['portable']);
    expect(names(new Set(['subgroups']), true)).toEqual(['portable', 'subgroup']);
    expect(names(ALL, false)).toEqual(['portable', 'subgroup']);
    expect(names(ALL, true)).toEqual(['portable', 'subgroup', 'subgroup-f16']);
  });

  it('combine into every candidate set, each a distinct KernelChoice that maps back to its selection', () => {
    const options = kernelOptions(ALL, true);
    const sets = candidateSelections(options);
    expect(sets).toHaveLength(3 * 2 * 2);
    const choices = sets.map((s) => choiceOf(s, options));
    expect(new Set(choices.map((c) => JSON.stringify(c))).size).toBe(sets.length);
    sets.forEach((s, i) => expect(selectionOf(choices[i]!)).toEqual(s));
    // The fixed sets are among the candidates.
    for (const fixed of [chooseKernels(ALL, 'fast'), chooseKernels(ALL, 'baseline')]) expect(sets).toContainEqual(selectionOf(fixed));
  });

  it('refuse a selection naming an option this device does not have', () => {
    const noSubgroups = kernelOptions(new Set(), true);
    expect(() => choiceOf({ decodeMatvec: 'subgroup', decodeAttention: 'split', prefill: 'gemm' }, noSubgroups)).toThrow(/not an option/);
  });
});

describe('pickKernels', () => {
  const options = kernelOptions(ALL, true);

  it('picks the fastest option of each step kind on its own', () => {
    const selection = pickKernels(
      {
        decodeMatvec: { portable: 9.3, subgroup: 6.3, 'subgroup-f16': 10.8 },
        decodeAttention: { 'per-head': 1.2, split: 2.2 },
        prefill: { matmul: 113, gemm: 74 },
      },
      options,
    );
    expect(selection).toEqual({ decodeMatvec: 'subgroup', decodeAttention: 'per-head', prefill: 'gemm' });
  });

  it('keeps the earlier (portable) option unless another is faster by more than the tie margin', () => {
    const within = 100 * (1 - TIE_FRACTION / 2);
    const beyond = 100 * (1 - TIE_FRACTION * 2);
    const pick = (subgroup: number) => pickKernels({ decodeMatvec: { portable: 100, subgroup } }, options).decodeMatvec;
    expect(pick(within)).toBe('portable');
    expect(pick(beyond)).toBe('subgroup');
  });

  it('keeps the first option of a kind with no usable timing, and gives the same answer every time', () => {
    const estimates = { decodeMatvec: { portable: Number.NaN, subgroup: Number.POSITIVE_INFINITY }, prefill: { gemm: 3, matmul: 3 } };
    const first = pickKernels(estimates, options);
    expect(first).toEqual({ decodeMatvec: 'portable', decodeAttention: 'per-head', prefill: 'matmul' });
    for (let i = 0; i < 5; i++) expect(pickKernels(estimates, options)).toEqual(first);
  });
});

describe('the record key', () => {
  const adapter = { vendor: 'nvidia', architecture: 'ada', device: '2684', description: 'RTX 4090', features: ['shader-f16', 'subgroups'] };
  const model = { hiddenSize: 4096, numLayers: 32, quantization: 'q4f16_1', contextWindow: 4096 };
  const pipelines = ['matvec|code A', 'gemm|code B'];
  const key = tuningKey(adapter, model, pipelines);

  it('is the same for the same adapter, model and kernels, whatever their order', () => {
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(tuningKey({ ...adapter }, { ...model }, [...pipelines].reverse())).toBe(key);
  });

  it('changes with the adapter, its driver description, the model shape, the context window and any kernel code', () => {
    const others = [
      tuningKey({ ...adapter, device: '2704' }, model, pipelines),
      tuningKey({ ...adapter, description: 'RTX 4090 (driver 560)' }, model, pipelines),
      tuningKey({ ...adapter, features: ['subgroups'] }, model, pipelines),
      tuningKey(adapter, { ...model, hiddenSize: 2048 }, pipelines),
      tuningKey(adapter, { ...model, contextWindow: 2048 }, pipelines),
      tuningKey(adapter, model, ['matvec|code A', 'gemm|code B, edited']),
    ];
    for (const other of others) expect(other).not.toBe(key);
    expect(new Set(others).size).toBe(others.length);
  });

  it('reads an adapter without the features that only change how kernels are timed', () => {
    const device = { adapterInfo: { vendor: 'v', architecture: 'a', device: 'd', description: 'x' }, features: new Set(['timestamp-query', 'subgroups']) } as unknown as GPUDevice;
    expect(adapterIdentity(device)).toEqual({ vendor: 'v', architecture: 'a', device: 'd', description: 'x', features: ['subgroups'] });
  });

  it('is used only by a record of that key that names options the device still has', () => {
    const record: KernelTuningRecord = {
      key,
      selection: { decodeMatvec: 'subgroup', decodeAttention: 'split', prefill: 'gemm' },
      estimates: { decodeMatvec: {}, decodeAttention: {}, prefill: {} },
      clock: 'gpu-timestamps',
      measureMs: 1,
      measuredAt: '2026-12-03T00:00:00Z',
      adapter: '',
      model: '',
    };
    expect(usableRecord(record, key, kernelOptions(ALL, true))).toBe(true);
    expect(usableRecord(record, tuningKey(adapter, model, ['other']), kernelOptions(ALL, true))).toBe(false);
    expect(usableRecord(record, key, kernelOptions(new Set(), true))).toBe(false);
    expect(usableRecord(undefined, key, kernelOptions(ALL, true))).toBe(false);
    expect(STEP_KINDS.every((k) => k in record.selection)).toBe(true);
  });
});
