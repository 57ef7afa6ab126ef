/**
 * Converter memory benchmark: generates a checkpoint of Baichuan-7B's shape (all 4,096-wide
 * matrices, vocab 64,000, untied lm_head) with enough layers to pass 4.5 GB in bf16 — so the zip is
 * really ZIP64 — then converts it and prints the converter's peak RSS. The checkpoint is generated
 * in a child process so its memory is not counted.
 *
 *   npx tsx packages/cli/scripts/bench-convert.ts [--layers 9] [--quant q4f16_1] [--dir ~/.cache/webchuan/bench]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BAICHUAN_7B } from '../../sdk/src/model/config.js';
import { mulberry32 } from '../../sdk/src/model/random.js';
import { isQuantization } from '../../sdk/src/model/quant.js';
import { convertHf } from '../src/convert.js';
import { progressBar } from '../src/progress-bar.js';
import { tinyTokenizerModel } from '../src/tiny-tokenizer.js';
import { torchSave, type TensorToSave } from './torch-save.js';

const { values: o } = parseArgs({
  options: { layers: { type: 'string', default: '9' }, quant: { type: 'string', default: 'q4f16_1' }, dir: { type: 'string', default: join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'webchuan', 'bench') }, 'generate-only': { type: 'boolean' } },
});
const layers = Number(o.layers);
const dir = o.dir!;
const hfDir = join(dir, `baichuan-shape-${layers}L`);
const checkpoint = join(hfDir, 'pytorch_model.bin');

/** bf16 values from a fixed random pool, read at random offsets: realistic bytes at disk speed. */
function bf16Tensor(name: string, shape: number[], pool: Uint16Array, next: () => number): TensorToSave {
  return {
    name,
    shape,
    dtype: 'bfloat16',
    *chunks() {
      let left = shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, 4 * 1024 * 1024);
        const at = Math.floor(next() * (pool.length - n));
        yield new Uint8Array(pool.buffer, at * 2, n * 2);
        left -= n;
      }
    },
  };
}

async function generate(): Promise<void> {
  mkdirSync(hfDir, { recursive: true });
  const c = BAICHUAN_7B;
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  writeFileSync(join(hfDir, 'config.json'), JSON.stringify({
    architectures: ['BaiChuanForCausalLM'], model_type: 'baichuan', vocab_size: c.vocabSize, hidden_size: H, intermediate_size: I,
    num_hidden_layers: layers, num_attention_heads: c.numHeads, max_position_embeddings: c.contextWindow, rms_norm_eps: c.rmsNormEps,
    bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  }, null, 2));
  writeFileSync(join(hfDir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false, add_eos_token: false }));
  writeFileSync(join(hfDir, 'tokenizer.model'), tinyTokenizerModel()); // conversion copies it; its vocabulary is not read
  const next = mulberry32(1);
  const pool = new Uint16Array(32 * 1024 * 1024);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < pool.length; i++) {
    f[0] = (next() * 2 - 1) * 0.05;
    pool[i] = u[0]! >>> 16;
  }
  const tensors: TensorToSave[] = [bf16Tensor('model.embed_tokens.weight', [c.vocabSize, H], pool, next)];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      bf16Tensor(`${p}.self_attn.W_pack.weight`, [3 * H, H], pool, next),
      bf16Tensor(`${p}.self_attn.o_proj.weight`, [H, H], pool, next),
      bf16Tensor(`${p}.mlp.gate_proj.weight`, [I, H], pool, next),
      bf16Tensor(`${p}.mlp.down_proj.weight`, [H, I], pool, next),
      bf16Tensor(`${p}.mlp.up_proj.weight`, [I, H], pool, next),
      bf16Tensor(`${p}.input_layernorm.weight`, [H], pool, next),
      bf16Tensor(`${p}.post_attention_layernorm.weight`, [H], pool, next),
    );
  }
  tensors.push(bf16Tensor('model.norm.weight', [H], pool, next), bf16Tensor('lm_head.weight', [c.vocabSize, H], pool, next));
  await torchSave(`${checkpoint}.partial`, tensors);
  spawnSync('mv', [`${checkpoint}.partial`, checkpoint]);
}

if (o['generate-only']) {
  await generate();
} else {
  if (!isQuantization(o.quant!)) throw new Error(`--quant ${o.quant}?`);
  if (!existsSync(checkpoint)) {
    process.stderr.write(`generating ${checkpoint} …\n`);
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--generate-only', '--layers', String(layers), '--dir', dir], { stdio: 'inherit' });
    if (child.status !== 0) process.exit(child.status ?? 1);
  }
  const bytes = statSync(checkpoint).size;
  const out = join(dir, `out-${o.quant}`);
  const t0 = performance.now();
  await convertHf(hfDir, o.quant, out, { onProgress: progressBar('converting', ' params') });
  const seconds = (performance.now() - t0) / 1000;
  const outBytes = readdirSync(out).reduce((n, f) => n + statSync(join(out, f)).size, 0);
  console.log(JSON.stringify({
    checkpoint_bytes: bytes,
    zip64: bytes > 0xffffffff,
    layers,
    quantization: o.quant,
    seconds: Number(seconds.toFixed(1)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    output_bytes: outBytes,
  }));
}
