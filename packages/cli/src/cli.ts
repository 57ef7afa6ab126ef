/**
 * The `webchuan` command line: import and generate models, run them on the GPU through Dawn,
 * tokenize, benchmark. Results go to stdout; figures and progress to stderr.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { isQuantization, QUANTIZATIONS, type Quantization } from '../../sdk/src/model/quant.js';
import { generate } from '../../sdk/src/engine/generate.js';
import { checkSamplingParams } from '../../sdk/src/engine/sampler.js';
import { StreamingDetokenizer } from '../../sdk/src/tokenizer/tokenizer.js';
import { KERNEL_PREFERENCES, type KernelPreference } from '../../sdk/src/gpu/variants.js';
import { describeModelLibMismatch, modelLibDifferences, readArtifactIndex, readModelLibMetadata } from '../../sdk/src/model/model-lib.js';
import { convertHf } from './convert.js';
import { writeGgufFiles } from './gguf.js';
import { GGUF_WEIGHT_TYPES, type GgufWeightType } from '../../sdk/src/model/gguf-artifact.js';
import { directorySource } from './fs-source.js';
import { readRegularFile } from './input-file.js';
import { importLlama2c } from './import-llama2c.js';
import { tinyBaichuanConfig, writeRandomModel } from './random-model.js';
import { writeRandomModelForLib } from './random-model-for-lib.js';
import { tinyTokenizerPieces } from './tiny-tokenizer.js';
import { loadNodeModel, loadNodeTokenizer } from './runtime.js';
import { benchmark } from './bench.js';
import { evaluateNode, formatSummary, loadDataset } from './eval.js';
import { progressBar } from './progress-bar.js';
import { compileLib } from './compile-lib.js';
import { checkOutputFile, jsonObjectWith, writeOutputFile } from './output-file.js';
import { announceDevice } from './gpu.js';

/** An earlier `eval` summary (which `eval --out` may replace without --force). */
const isEvalSummary = (text: string) => jsonObjectWith(text, ['protocol', 'shots', 'subjects', 'macroAccuracy', 'microAccuracy']);

const USAGE = `webchuan <command> [options]

  import-llama2c <model.bin> --tokenizer <tok.model> --quant <q> --out <dir>
      Import a llama2.c checkpoint into an MLC-layout artifact.
  convert <hf-model-dir> [--quant <q>] --out <dir> [--gguf]
      Convert a Hugging Face checkpoint (Baichuan-7B or LLaMA-family; .bin, sharded, safetensors);
      --quant q4f16_1 by default. The artifact serves both paths: WebGPU, and the CPU path, which
      builds its GGUF from it in the tab. --gguf also writes that GGUF into the artifact folder
      (model.gguf, for llama.cpp's own tools; the browser never downloads it).
  random-model --out <dir> [--quant <q>] [--seed N] [--kv-heads N] [--layers N] [--hidden N] [--tokenizer <tok.model>]
      Write a tiny random model in Baichuan-7B's layout (for tests, benchmarks and the demo); without
      --tokenizer it gets a small generated SentencePiece tokenizer. --hidden N (a multiple of 64):
      heads of 64, an MLP 2.75 N wide (--hidden 1024 --layers 8 with the poetry tokenizer: 113M parameters).
  random-model --for-lib <model-lib.wasm> --out <dir> [--vocab N] [--seed N] [--bf16]
      Write a random-weight artifact that fits an MLC model library (WebLLM) exactly, with a synthetic
      tokenizer.json; --vocab where the library leaves the vocabulary size open; --bf16 stores
      float32 weights as bfloat16 (as mlc_llm does).
  generate --model <dir> --prompt "<text>" [--max-tokens N] [--temperature T] [--top-p P] [--top-k K]
           [--repetition-penalty R] [--seed S] [--json] [--kernels auto|fast|baseline]
      Print the continuation of the prompt (stdout; greedy unless --temperature > 0); figures go to stderr.
      --kernels auto (default) measures the kernel options on this GPU once per model shape and keeps
      the choice in $WEBCHUAN_CACHE_DIR (default ~/.cache/webchuan) for later runs.
  tokenize --tokenizer <tokenizer.model|model dir>
      Read one JSON string per line on stdin, print one JSON array of token ids per line.
  bench --backend cpu --model <dir> [--decode-tokens D] [--context N] [--threads T]
      The CPU path (llama.cpp in WebAssembly) beside the WebGPU engine on the same model, in the same
      page of one Chromium: one JSON line with each engine's load time, first request, prefill and
      decode tokens/s and greedy text, and the page's CPU probe. --threads T > 1 serves the page
      cross-origin isolated so llama.cpp can use T threads.
  bench (--model <dir> | --shape baichuan-7b [--layers N] [--quant <q>]) [--context N] [--prompt-tokens P]
        [--decode-tokens D] [--decode-at POS] [--kernels fast|baseline|both|auto|all] [--rounds N]
      Print one JSON line: prefill and decode tokens/s per kernel set, the adapter's measured
      streaming-read bandwidth, bandwidth_fraction (weight bytes per token × decode tokens/s ÷ that
      bandwidth) and per-kernel GPU time of a decode step and a prefill (timestamp-query). --shape
      generates random weights of that model's real shapes in GPU memory (no file; shapes:
      baichuan-7b, tinyllama-1.1b). --kernels all runs every candidate set (each combination of the
      options of each step kind) and what auto measures and picks, with auto's tokens/s against the
      fastest set's; --rounds N (default 3 with all, else 1) times each phase N times, interleaving
      the sets (prefill: the fastest round; decode: the median step).
  eval --model <dir> --data <dataset dir> [--protocol ceval|mmlu] [--split val|test] [--subjects a,b]
       [--shots 5] [--limit N] [--out summary.json [--force]] [--kernels auto|fast|baseline]
      Multiple-choice accuracy as in Baichuan-7B's C-Eval/MMLU tables: k-shot prompts from dev/, the
      answer whose letter has the highest next-token logit; --limit scores only the first N questions of
      each subject (the demo's Evaluate panel takes the same limit). A table on stderr, the JSON summary on stdout
      (or in --out: never inside the model or the dataset; over an existing file only if it is an
      earlier summary, or with --force).
  gguf <artifact dir> --out <dir> [--type auto|F32|F16|Q8_0|Q4_0] [--split-mb N] [--force]
      Write the artifact as llama.cpp GGUF (model.gguf, or model-0000N-of-0000M.gguf past N MiB, 512):
      the file the browser's CPU path builds in the tab. --type auto (default) is lossless: q0f32 as
      F32, 4-bit groups repacked bit for bit into Q4_0. An existing file is replaced only if it is a
      GGUF file (or with --force); the files are staged beside --out and renamed into place.
  check-lib <model-lib.wasm> <artifact dir>
      Compare the parameters an MLC model library (WebLLM) was compiled for with an artifact's
      tensor-cache.json; exit 1 naming every difference, the first first.
  compile-lib <artifact dir> [--out <model-lib.wasm>] [--toolchain <dir>] [--quick]
      Compile a WebGPU model library (for WebLLM) for a Baichuan artifact with TVM, from its
      mlc-chat-config.json alone (no weights needed); check it against the artifact's tensor-cache.json
      when there is one. The first run makes the toolchain (a Python venv with apache-tvm, TVM's web
      runtime built by Emscripten; needs python3-venv and emscripten) in ~/.cache/webchuan. Default
      --out: <artifact dir>-webgpu.wasm. --quick links without wasm-opt -O3 (seconds, not minutes;
      the library is ~1.3× larger gzipped).

Commands that use the GPU (generate, bench, eval) print the adapter they run on to stderr first.
  --gpu swiftshader|lavapipe|<icd.json>
      Run on this Vulkan driver (also: WEBCHUAN_GPU, or VK_ICD_FILENAMES); when it gives no adapter the
      command fails rather than falling back to another. Default: the machine's GPU, else SwiftShader.

Quantizations: ${QUANTIZATIONS.join(', ')}`;

class UsageError extends Error {}

function quant(value: string | undefined, fallback?: Quantization): Quantization {
  const q = value ?? fallback;
  if (!q || !isQuantization(q)) throw new UsageError(`--quant must be one of ${QUANTIZATIONS.join(', ')}`);
  return q;
}

function int(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

const BENCH_KERNELS = ['baseline', 'fast', 'both', 'auto', 'all'] as const;
type BenchKernels = (typeof BENCH_KERNELS)[number];

/** `--kernels` of generate and eval: auto (default), fast or baseline. */
function kernelPreference(value: string | undefined): KernelPreference {
  const k = value ?? 'auto';
  if (!(KERNEL_PREFERENCES as readonly string[]).includes(k)) throw new UsageError(`--kernels must be ${KERNEL_PREFERENCES.join(', ')}`);
  return k as KernelPreference;
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`${name} is required`);
  return value;
}

const OPTIONS = {
  tokenizer: { type: 'string' },
  quant: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string' },
  prompt: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  json: { type: 'boolean' },
  seed: { type: 'string' },
  'kv-heads': { type: 'string' },
  layers: { type: 'string' },
  'for-lib': { type: 'string' },
  vocab: { type: 'string' },
  bf16: { type: 'boolean' },
  'prompt-tokens': { type: 'string' },
  'decode-tokens': { type: 'string' },
  data: { type: 'string' },
  protocol: { type: 'string' },
  split: { type: 'string' },
  subjects: { type: 'string' },
  shots: { type: 'string' },
  limit: { type: 'string' },
  'decode-at': { type: 'string' },
  shape: { type: 'string' },
  context: { type: 'string' },
  kernels: { type: 'string' },
  rounds: { type: 'string' },
  gpu: { type: 'string' },
  force: { type: 'boolean' },
  type: { type: 'string' },
  'split-mb': { type: 'string' },
  gguf: { type: 'boolean' },
  hidden: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  toolchain: { type: 'string' },
  quick: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { values: o, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
    if (command === undefined || command === 'help' || command === '--help' || command === '-h' || o.help) {
      // Asked for: the usage on stdout, and success.
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (o.gpu) process.env['WEBCHUAN_GPU'] = o.gpu; // read by nodeAdapter, and by any child process
    switch (command) {
      case 'import-llama2c': {
        const checkpoint = required(positionals[0], '<model.bin>');
        const config = await importLlama2c(checkpoint, required(o.tokenizer, '--tokenizer'), quant(o.quant), required(o.out, '--out'));
        process.stderr.write(`imported ${checkpoint}: ${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize} → ${o.out}\n`);
        return 0;
      }
      case 'convert': {
        const dir = required(positionals[0], '<hf-model-dir>');
        const config = await convertHf(dir, quant(o.quant, 'q4f16_1'), required(o.out, '--out'), {
          onNote: (note) => process.stderr.write(`note: ${note}\n`),
          onProgress: progressBar('converting', ' params'),
        });
        process.stderr.write(`converted ${dir}: ${config.modelType}, ${config.numLayers} layers, hidden ${config.hiddenSize} → ${o.out}\n`);
        if (o.gguf) {
          const gguf = await writeGgufFiles(o.out!, o.out!);
          process.stderr.write(`wrote ${gguf.files.join(', ')} (${gguf.totalBytes} bytes, matrices as ${gguf.weightType})\n`);
        }
        return 0;
      }
      case 'random-model': {
        if (o['for-lib']) {
          const lib = readModelLibMetadata(await readRegularFile(o['for-lib']), o['for-lib']);
          const vocab = o.vocab === undefined ? undefined : int(o.vocab, '--vocab', 0);
          await writeRandomModelForLib(required(o.out, '--out'), lib, { vocabSize: vocab, seed: int(o.seed, '--seed', 1), bf16: o.bf16 === true, inputs: [o['for-lib']] });
          process.stderr.write(`wrote a random ${lib.model_type} ${lib.quantization} model for ${o['for-lib']} to ${o.out}\n`);
          return 0;
        }
        // Without --tokenizer, a small generated SentencePiece model sets the vocabulary.
        const tokenizer = o.tokenizer ? await loadNodeTokenizer(o.tokenizer) : undefined;
        const hidden = o.hidden === undefined ? undefined : int(o.hidden, '--hidden', 64);
        if (hidden !== undefined && (hidden === 0 || hidden % 64 !== 0)) throw new UsageError('--hidden must be a positive multiple of 64');
        const layers = int(o.layers, '--layers', 2);
        // A bound here keeps a typo from describing a model larger than memory (the bytes are checked again before writing).
        if (layers > 1024) throw new UsageError(`--layers ${layers}: random models have at most 1024 layers`);
        const config = tinyBaichuanConfig({
          numKvHeads: int(o['kv-heads'], '--kv-heads', hidden ? hidden / 64 : 4),
          numLayers: layers,
          vocabSize: tokenizer?.vocabSize ?? tinyTokenizerPieces().length,
          ...(hidden ? { hiddenSize: hidden, numHeads: hidden / 64, headDim: 64, intermediateSize: Math.round((2.75 * hidden) / 32) * 32, contextWindow: 1024 } : {}),
        });
        tokenizer?.dispose();
        await writeRandomModel(required(o.out, '--out'), config, quant(o.quant, 'q4f16_1'), int(o.seed, '--seed', 0), o.tokenizer ?? 'tiny');
        process.stderr.write(`wrote a random ${config.modelType} model to ${o.out}\n`);
        return 0;
      }
      case 'generate':
        return await runGenerate(o);
      case 'tokenize':
        return await tokenize(required(o.tokenizer, '--tokenizer'));
      case 'gguf': {
        const dir = required(positionals[0], '<artifact dir>');
        const type = (o.type ?? 'auto') as GgufWeightType;
        if (!GGUF_WEIGHT_TYPES.includes(type)) throw new UsageError(`--type must be one of ${GGUF_WEIGHT_TYPES.join(', ')}`);
        const splitMb = o['split-mb'] === undefined ? undefined : int(o['split-mb'], '--split-mb', 512);
        if (splitMb === 0) throw new UsageError('--split-mb must be at least 1');
        const result = await writeGgufFiles(dir, required(o.out, '--out'), { weightType: type, maxFileBytes: splitMb === undefined ? undefined : splitMb * 1024 * 1024, force: o.force === true });
        process.stderr.write(`wrote ${result.files.length} GGUF file(s), ${result.totalBytes} bytes, matrices as ${result.weightType}: ${result.files.join(', ')}\n`);
        return 0;
      }
      case 'check-lib':
        return await checkLib(required(positionals[0], '<model-lib.wasm>'), required(positionals[1], '<artifact dir>'));
      case 'compile-lib': {
        const dir = required(positionals[0], '<artifact dir>');
        const lib = await compileLib(dir, { out: o.out, toolchain: o.toolchain, quick: o.quick, onProgress: (line) => process.stderr.write(`${line}\n`) });
        const checked = lib.checkedParams === undefined ? 'no tensor-cache.json to check it against' : `fits ${dir}: all ${lib.checkedParams} parameters match`;
        process.stdout.write(`${lib.out}\n`);
        process.stderr.write(`compiled ${dir} → ${lib.out} (${(lib.bytes / 1e6).toFixed(1)} MB, ${lib.seconds.toFixed(0)} s); ${checked}\n`);
        return 0;
      }
      case 'bench': {
        if (o.backend !== undefined && o.backend !== 'webchuan') {
          if (o.backend !== 'cpu') throw new UsageError("--backend must be webchuan (this machine's GPU, in Node) or cpu (the CPU path beside the WebGPU engine, in Chromium)");
          const { benchBrowser } = await import('./bench-browser.js');
          const result = await benchBrowser({
            model: required(o.model, '--model'),
            backends: ['webchuan', 'cpu'],
            decodeTokens: int(o['decode-tokens'], '--decode-tokens', 32),
            contextWindow: o.context === undefined ? undefined : int(o.context, '--context', 0),
            threads: o.threads === undefined ? undefined : int(o.threads, '--threads', 1),
            log: (line) => process.stderr.write(`${line}\n`),
          });
          process.stdout.write(`${JSON.stringify(result)}\n`);
          return 0;
        }
        const kernels = o.kernels ?? 'both';
        if (!BENCH_KERNELS.includes(kernels as BenchKernels)) throw new UsageError(`--kernels must be ${BENCH_KERNELS.join(', ')}`);
        if (!o.model && !o.shape) throw new UsageError('bench needs --model <dir> or --shape <name>');
        const result = await benchmark({
          model: o.model,
          shape: o.shape,
          layers: o.layers === undefined ? undefined : int(o.layers, '--layers', 0),
          quantization: o.quant === undefined ? undefined : quant(o.quant),
          contextWindow: o.context === undefined ? undefined : int(o.context, '--context', 0),
          promptTokens: int(o['prompt-tokens'], '--prompt-tokens', 16),
          decodeTokens: int(o['decode-tokens'], '--decode-tokens', 8),
          decodeAt: o['decode-at'] === undefined ? undefined : int(o['decode-at'], '--decode-at', 0),
          kernels: kernels as BenchKernels,
          rounds: int(o.rounds, '--rounds', kernels === 'all' ? 3 : 1),
          onDevice: announceDevice,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
      }
      case 'eval': {
        const protocol = o.protocol ?? 'ceval';
        if (protocol !== 'ceval' && protocol !== 'mmlu') throw new UsageError('--protocol must be ceval or mmlu');
        const out = o.out;
        const outOptions = { inputs: [required(o.model, '--model'), required(o.data, '--data')], isOurs: isEvalSummary, ours: 'a webchuan eval summary', force: o.force === true };
        if (out) checkOutputFile(out, outOptions); // before the evaluation: a refused --out costs nothing
        const subjects = loadDataset(required(o.data, '--data'), {
          protocol,
          split: o.split ?? (protocol === 'ceval' ? 'val' : 'test'),
          subjects: o.subjects?.split(',').map((s) => s.trim()).filter(Boolean),
        });
        const model = await loadNodeModel(required(o.model, '--model'), { kernels: kernelPreference(o.kernels) });
        try {
          const summary = await evaluateNode(model, subjects, { protocol, shots: int(o.shots, '--shots', 5), limit: o.limit === undefined ? undefined : int(o.limit, '--limit', 0), onProgress: progressBar('evaluating', ' questions') });
          process.stderr.write(formatSummary(summary));
          const json = `${JSON.stringify(summary, null, 1)}\n`;
          if (out) writeOutputFile(out, json, outOptions);
          else process.stdout.write(json);
        } finally {
          model.dispose();
        }
        return 0;
      }
      default:
        process.stderr.write(`webchuan: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`webchuan ${command ?? ''}: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`webchuan ${command ?? ''}: ${(error as Error).message}\n`);
    return 1;
  }
}

interface GenerateFlags {
  model?: string;
  prompt?: string;
  'max-tokens'?: string;
  temperature?: string;
  'top-p'?: string;
  'top-k'?: string;
  'repetition-penalty'?: string;
  seed?: string;
  json?: boolean;
  kernels?: string;
}

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${name} must be a number, got "${value}"`);
  return n;
}

async function runGenerate(o: GenerateFlags): Promise<number> {
  const sampling = {
    temperature: num(o.temperature, '--temperature') ?? 0,
    top_p: num(o['top-p'], '--top-p'),
    top_k: num(o['top-k'], '--top-k'),
    repetition_penalty: num(o['repetition-penalty'], '--repetition-penalty'),
    seed: num(o.seed, '--seed'),
  };
  const prompt = o.prompt ?? '';
  const model = await loadNodeModel(required(o.model, '--model'), { kernels: kernelPreference(o.kernels) });
  try {
    const config = model.info.config;
    const context = [...config.promptPrefixTokenIds, ...model.tokenizer.encode(prompt)];
    if (context.length === 0) throw new UsageError('the prompt is empty and this model adds no BOS token: give some text');
    const detok = new StreamingDetokenizer(model.tokenizer, context);
    let text = '';
    checkSamplingParams(sampling, config.vocabSize);
    const result = await generate(model.forward, context, {
      ...sampling,
      maxTokens: int(o['max-tokens'], '--max-tokens', 64),
      stopTokenIds: config.stopTokenIds,
      onToken: (id) => {
        const piece = detok.push(id);
        text += piece;
        if (!o.json) process.stdout.write(piece);
      },
    });
    const tail = detok.flush();
    text += tail;
    if (o.json) process.stdout.write(`${JSON.stringify({ ids: result.ids, text })}\n`);
    else process.stdout.write(tail + (process.stdout.isTTY ? '\n' : ''));
    const decodeRate = result.ids.length > 1 ? ((result.ids.length - 1) / result.decodeMs) * 1000 : 0;
    process.stderr.write(
      `[${context.length} prompt tokens: ${((context.length / result.prefillMs) * 1000).toFixed(1)} tok/s prefill; ` +
        `${result.ids.length} generated (${result.finishReason}): ${decodeRate.toFixed(1)} tok/s decode]\n`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

async function checkLib(libPath: string, artifactDir: string): Promise<number> {
  const lib = readModelLibMetadata(await readRegularFile(libPath), libPath);
  const { chatConfig, cache, cacheFile } = await readArtifactIndex(directorySource(artifactDir));
  const differences = modelLibDifferences(lib, cache, chatConfig);
  if (differences.length === 0) {
    process.stdout.write(`ok: ${libPath} (${lib.model_type}, ${lib.quantization}) fits ${artifactDir}: all ${lib.params.length} parameters match ${cacheFile}\n`);
    return 0;
  }
  process.stderr.write(`${describeModelLibMismatch(differences, libPath, artifactDir)}\n`);
  for (const d of differences.slice(1)) process.stderr.write(`  ${d}\n`);
  return 1;
}

async function tokenize(path: string): Promise<number> {
  const tokenizer = await loadNodeTokenizer(path);
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let text: unknown;
    try {
      text = JSON.parse(line);
    } catch {
      throw new Error(`line ${lineNo}: not JSON: ${line.slice(0, 60)}`);
    }
    if (typeof text !== 'string') throw new Error(`line ${lineNo}: expected a JSON string`);
    process.stdout.write(`${JSON.stringify(tokenizer.encode(text))}\n`);
  }
  tokenizer.dispose();
  return 0;
}
