/**
 * The checkpoint in ../shared/reference/baichuan-tiny was saved by real PyTorch in Baichuan-7B's exact
 * Hugging Face layout. Converted by our Node converter (from pytorch_model.bin, from the sharded
 * files and from safetensors), it must reproduce PyTorch's float32 forward pass in reference.json.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '../../sdk/src/engine/generate.js';
import { openArtifact, readTensors } from '../../sdk/src/model/artifact.js';
import { defaultKvDtype, type Quantization } from '../../sdk/src/model/quant.js';
import { convertHf } from '../src/convert.js';
import { directorySource } from '../src/fs-source.js';
import { loadNodeModel } from '../src/runtime.js';
import { argmax } from '../../sdk/src/reference/kernels.js';
import { ReferenceModel } from '../../sdk/src/reference/model.js';
import { collectReferenceWeights } from '../../sdk/src/reference/weights.js';
import { LAZY_FAST, sharedFile, tempDir } from '../../sdk/test/helpers.js';
import type { PytorchReferenceCase as Case } from '../../sdk/test/helpers.js';

const tiny = sharedFile('reference/baichuan-tiny');

const dir = tempDir();
afterAll(() => dir.remove());

/** A Hugging Face model directory with the configs and tokenizer of baichuan-tiny and the given weight files. */
function hfDir(name: string, weights: string[]): string {
  const out = join(dir.path, name);
  mkdirSync(out, { recursive: true });
  for (const f of ['config.json', 'tokenizer.model', 'tokenizer_config.json']) copyFileSync(join(tiny!, f), join(out, f));
  for (const w of weights) copyFileSync(join(tiny!, w), join(out, w.split('/').pop()!));
  return out;
}

describe.skipIf(!tiny)('baichuan-tiny (PyTorch-made, Baichuan-7B layout) through `webchuan convert`', () => {
  const { cases } = JSON.parse(readFileSync(join(tiny!, 'reference.json'), 'utf8')) as { cases: Case[] };
  const variants: [string, string[]][] = [
    ['pytorch_model.bin', ['pytorch_model.bin']],
    ['sharded', readdirSync(join(tiny!, 'sharded')).map((f) => `sharded/${f}`)],
    ['safetensors', ['model.safetensors']],
  ];

  it.each(variants)('from %s at q0f32: greedy tokens, per-position argmax and top logits equal PyTorch', async (name, weights) => {
    const artifact = join(dir.path, `${name}-q0f32`);
    await convertHf(hfDir(name, weights), 'q0f32', artifact);
    const model = await loadNodeModel(artifact, LAZY_FAST);
    try {
      expect(model.info.config.promptPrefixTokenIds).toEqual([]); // Baichuan-7B prepends no BOS
      for (const c of cases) {
        expect(model.tokenizer.encode(c.prompt)).toEqual(c.ids);
        const all = await model.forward.run(c.ids, 0, 'all-logits');
        const V = model.info.config.vocabSize;
        const perPosition = c.ids.map((_, t) => argmax(all.subarray(t * V, (t + 1) * V)));
        expect(perPosition).toEqual(c.argmax_per_position);
        const last = all.subarray((c.ids.length - 1) * V);
        for (const [id, logit] of c.last_position_top20) expect(Math.abs(last[id]! - logit)).toBeLessThan(1e-3);
        const result = await generateGreedy(model.forward, c.ids, { maxTokens: c.greedy_continuation_ids.length });
        expect(result.ids).toEqual(c.greedy_continuation_ids);
      }
    } finally {
      model.dispose();
    }
  });

  it.each(['q4f32_1', 'q4f16_1'] as Quantization[])('at %s loads, runs, and greedy-decodes like the CPU reference on its dequantized weights', async (quant) => {
    const artifact = join(dir.path, `tiny-${quant}`);
    await convertHf(hfDir('pytorch_model.bin', ['pytorch_model.bin']), quant, artifact);
    const source = directorySource(artifact);
    const { cache, info } = await openArtifact(source);
    const reference = new ReferenceModel(info.config, await collectReferenceWeights(info.config, readTensors(source, cache)), 64, defaultKvDtype(info.quantization));
    const model = await loadNodeModel(artifact, { ...LAZY_FAST, contextWindow: 64 });
    try {
      const c = cases[0]!;
      const result = await generateGreedy(model.forward, c.ids, { maxTokens: 12 });
      const expected: number[] = [];
      let logits = reference.forward(c.ids, 0);
      for (let i = 0; i < 12; i++) {
        const next = argmax(logits.subarray(logits.length - info.config.vocabSize));
        expected.push(next);
        logits = reference.forward([next], c.ids.length + i);
      }
      expect(result.ids).toEqual(expected);
    } finally {
      model.dispose();
    }
  });
});
