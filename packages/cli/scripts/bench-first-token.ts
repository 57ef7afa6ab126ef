/**
 * How long a first request waits once the model is loaded ("Ready"), on this machine's WebGPU in Node
 * (Dawn: SwiftShader, or `VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json` for Mesa's lavapipe),
 * and how long the load took, for the three ways a model can be loaded:
 *
 * - `lazy`: the engine before compile-before-ready: the `fast` kernels, each pipeline compiled at its
 *   first dispatch (blocking the request that first needs it);
 * - `first-visit`: `kernels: 'auto'` with nothing stored (the kernel options are timed during the
 *   load), the pipelines of the decode step and of a `--prompt-tokens` prompt compiled ahead and run
 *   once before the load resolves;
 * - `stored`: the same with the record of the first visit (a later visit on the same GPU).
 *
 * Each mode loads the model on a fresh device, then runs a `--prompt-tokens` prompt and `--decode`
 * greedy steps, then a second request of another prompt of the same length. A benchmark, not a test:
 *
 *   npx tsx packages/cli/scripts/bench-first-token.ts --model models/poetry/q4f16_1 [--prompt-tokens 24]
 *       [--decode 4] [--modes lazy,first-visit,stored]
 *
 * Prints one JSON object: per mode, load_ms, ready_to_first_token_ms (the prompt's prefill: its first
 * token), ready_to_last_token_ms, then the same for the second request, and what `auto` chose.
 */
import { register } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

register('../src/wgsl-loader.mjs', import.meta.url);
const { loadNodeModel } = await import('../src/runtime.js');
const { fileChoiceStore } = await import('../src/kernel-choice-file.js');
const { selectionName, selectionOf } = await import('../../sdk/src/gpu/variants.js');

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'prompt-tokens': { type: 'string', default: '24' },
    decode: { type: 'string', default: '4' },
    modes: { type: 'string', default: 'lazy,first-visit,stored' },
  },
});
if (!values.model) throw new Error('--model <artifact dir> is required');
const promptTokens = Number(values['prompt-tokens']);
const decode = Number(values.decode);
const store = join(mkdtempSync(join(tmpdir(), 'webchuan-first-token-')), 'kernels');

type Mode = 'lazy' | 'first-visit' | 'stored';

async function run(mode: Mode) {
  const t0 = performance.now();
  // A warmed load is told the prompt length (as a page may be; the CLI knows its prompt): it compiles
  // the decode step's pipelines and that prompt's before it resolves, the other sizes at their first use.
  const model = await loadNodeModel(
    values.model!,
    mode === 'lazy' ? { kernels: 'fast', warm: false } : { kernels: 'auto', warm: true, firstPromptTokens: promptTokens, kernelStore: fileChoiceStore(store) },
  );
  const loadMs = performance.now() - t0;
  try {
    const V = model.info.config.vocabSize;
    const request = async (seed: number, startPos: number) => {
      const prompt = Array.from({ length: promptTokens }, (_, i) => 3 + ((seed + i * 7919) % (V - 3)));
      const start = performance.now();
      let next = await model.forward.run(prompt, startPos, 'argmax');
      const first = performance.now() - start;
      for (let i = 0; i < decode; i++) next = await model.forward.run([next], startPos + promptTokens + i, 'argmax');
      return { first_token_ms: Math.round(first), last_token_ms: Math.round(performance.now() - start) };
    };
    const first = await request(1, 0);
    const second = await request(2, promptTokens + decode);
    return {
      mode,
      load_ms: Math.round(loadMs),
      kernels: `${model.kernels.source}: ${selectionName(selectionOf(model.kernels.choice))}`,
      measure_ms: model.kernels.source === 'measured' ? model.kernels.record?.measureMs : undefined,
      ready_to_first_token_ms: first.first_token_ms,
      ready_to_last_token_ms: first.last_token_ms,
      second_request_first_token_ms: second.first_token_ms,
      second_request_last_token_ms: second.last_token_ms,
      pipelines_compiled_ahead: model.forward.compiles.ahead,
      pipelines_compiled_during_requests: model.forward.compiles.late,
      request_wait_for_compiles_ms: Math.round(model.forward.compileWaitMs),
    };
  } finally {
    model.dispose();
  }
}

try {
  const results = [];
  for (const mode of values.modes!.split(',') as Mode[]) {
    results.push(await run(mode));
    process.stderr.write(`${JSON.stringify(results.at(-1))}\n`);
  }
  const { nodeAdapter } = await import('../src/gpu.js');
  const info = (await nodeAdapter()).info;
  console.log(JSON.stringify({ model: values.model, adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' · '), prompt_tokens: promptTokens, decode_tokens: decode, results }, null, 1));
} finally {
  rmSync(join(store, '..'), { recursive: true, force: true });
}
