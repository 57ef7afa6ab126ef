/**
 * `kernels: 'auto'` and compile-before-ready on a real WebGPU device (Dawn: SwiftShader here, the
 * machine's GPU elsewhere), on a tiny random model in Baichuan-7B's layout. The timings themselves
 * are never asserted (they are the adapter's); what must hold is that the choice is a valid set, is
 * kept and reused, runs the same numbers as the portable kernels, and that a warmed load leaves the
 * first request nothing to compile. The pure decision is tested in sdk/test/kernel-tuning.test.ts.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openArtifact } from '../../sdk/src/model/artifact.js';
import { requestModelDevice } from '../../sdk/src/gpu/device.js';
import { kernelOptions, selectionOf, STEP_KINDS } from '../../sdk/src/gpu/variants.js';
import { KernelPreparation } from '../../sdk/src/engine/kernel-preparation.js';
import type { KernelTuningRecord } from '../../sdk/src/engine/kernel-tuning.js';
import { loadModel, loadSizes } from '../../sdk/src/engine/model.js';
import { directorySource } from '../src/fs-source.js';
import { nodeAdapter } from '../src/gpu.js';
import { fileChoiceStore } from '../src/kernel-choice-file.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { maxAbsDiff, tempDir } from '../../sdk/test/helpers.js';

const dir = tempDir();
afterAll(() => dir.remove());

const SIZES = { contextWindow: 64, maxBatchTokens: 32 };

describe('kernels: auto', () => {
  it('measures once, keeps a valid choice in the cache folder and reuses it; the first request after a warmed load compiles nothing, the other sizes compile in the background, and it matches the portable kernels', async () => {
    const config = tinyBaichuanConfig({ numLayers: 1 });
    const artifact = join(dir.path, 'model');
    await writeRandomModel(artifact, config, 'q4f16_1', 7);
    const source = directorySource(artifact);
    const folder = join(dir.path, 'kernels');
    const store = fileChoiceStore(folder);
    const device = await requestModelDevice(await nodeAdapter(), undefined, { optionalFeatures: ['timestamp-query'] });
    try {
      const auto = await loadModel(device, source, { ...SIZES, kernels: 'auto', kernelStore: store, firstPromptTokens: 20 });
      const baseline = await loadModel(device, source, { ...SIZES, kernels: 'baseline', warm: false });
      try {
        // A valid set, with an estimate for every option of every kind that had a choice.
        expect(auto.kernels.source).toBe('measured');
        const record = auto.kernels.record!;
        const options = kernelOptions(device.features, true);
        for (const kind of STEP_KINDS) {
          expect(options[kind].map((o) => o.name)).toContain(record.selection[kind]);
          if (options[kind].length > 1) for (const o of options[kind]) expect(record.estimates[kind][o.name]).toBeGreaterThan(0);
        }
        expect(selectionOf(auto.forward.choice)).toEqual(record.selection);
        // Kept: one whole JSON file named by the key, nothing half-written beside it.
        expect(await readdir(folder)).toEqual([`${record.key}.json`]);
        expect((JSON.parse(await readFile(join(folder, `${record.key}.json`), 'utf8')) as KernelTuningRecord).selection).toEqual(record.selection);

        // Ready means ready for the first request (a 20-token prompt, then decode): it waits for no
        // pipeline. The other sizes compile in the background; once they are done, nothing does.
        const V = config.vocabSize;
        const late = auto.forward.compiles.late;
        const prompt = Array.from({ length: 20 }, (_, i) => 3 + ((i * 7919) % (V - 3)));
        const steps = [[prompt, 0], [[9], 20], [prompt.slice(0, 12), 21], [prompt.slice(0, 5), 33]] as const;
        const logits: Float32Array[] = [];
        for (const [tokens, at] of steps.slice(0, 2)) logits.push(await auto.forward.run(tokens, at, 'logits'));
        expect(auto.forward.compiles.late).toBe(late);
        expect(auto.forward.compileWaitMs).toBe(0);
        await auto.forward.prepare();
        const lateAfterBackground = auto.forward.compiles.late;
        for (const [tokens, at] of steps.slice(2)) logits.push(await auto.forward.run(tokens, at, 'logits'));
        await auto.forward.run([11], 38, 'argmax', { list: [{ id: 9, inContext: true, generatedCount: 1, bias: 0 }], params: { repetition_penalty: 1.1 } });
        expect(auto.forward.compiles.late).toBe(lateAfterBackground);

        // The same numbers as the portable kernels, step for step.
        const reference: Float32Array[] = [];
        for (const [tokens, at] of steps) reference.push(await baseline.forward.run(tokens, at, 'logits'));
        reference.forEach((r, i) => expect(maxAbsDiff(logits[i]!, r)).toBeLessThan(1e-3));

        // The next load on this GPU reads the record instead of measuring.
        const { info } = await openArtifact(source);
        const again = new KernelPreparation(device, { config, quantization: info.quantization, ...loadSizes(info, SIZES), kernels: 'auto', store });
        const reused = await again.choose();
        expect(reused.source).toBe('stored');
        expect(selectionOf(reused.choice)).toEqual(record.selection);
      } finally {
        auto.dispose();
        baseline.dispose();
      }
    } finally {
      device.destroy();
    }
  });

  it('a record file that cannot be read means measuring again, never a failure', async () => {
    const folder = join(dir.path, 'damaged');
    const store = fileChoiceStore(folder);
    const key = 'a'.repeat(32);
    const record: KernelTuningRecord = {
      key,
      selection: { decodeMatvec: 'portable', decodeAttention: 'split', prefill: 'gemm' },
      estimates: { decodeMatvec: {}, decodeAttention: {}, prefill: {} },
      clock: 'wall-clock',
      measureMs: 1,
      measuredAt: new Date(0).toISOString(),
      adapter: 'test',
      model: 'test',
    };
    await store.put(record);
    expect(await store.get(key)).toEqual(record);
    await writeFile(join(folder, `${key}.json`), '{"key": "aaa'); // cut off
    expect(await store.get(key)).toBeUndefined();
    expect(await store.get('b'.repeat(32))).toBeUndefined();
    expect(await store.get('../../etc/passwd')).toBeUndefined();
    await expect(store.put({ ...record, key: '../../etc/passwd' })).rejects.toThrow(/bad key/);
  });
});
