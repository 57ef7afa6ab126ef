/**
 * `webchuan compile-lib`: a WebGPU model library (the `.wasm` WebLLM runs) for one of our Baichuan
 * artifacts, compiled by TVM (wasm-build/tvm/: the model in relax.frontend.nn, TVM's web runtime built
 * with Emscripten). Only the artifact's mlc-chat-config.json is read to compile, so a library for
 * Baichuan-7B's shape needs no weights; when the artifact has its tensor-cache.json the library is
 * checked against it (`check-lib`) before it is moved into place.
 *
 * Nothing is written on bad input, and a failure leaves what was at `--out`: the library is written to
 * a hidden sibling file and renamed over `--out` only once it compiled and fits. `--out` may name a new
 * file or a model library (ours to replace), never another file.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHAT_CONFIG_FILE, LEGACY_TENSOR_CACHE_FILE, TENSOR_CACHE_FILE, type ChatConfigJson } from '../../sdk/src/model/artifact.js';
import { describeModelLibMismatch, modelLibDifferences, readArtifactIndex, readModelLibMetadata } from '../../sdk/src/model/model-lib.js';
import { BadArtifactError, OutputPathError } from '../../sdk/src/errors.js';
import { directorySource } from './fs-source.js';
import { removeIfInterrupted } from './interrupt.js';
import { makeStagingFolder } from './output-dir.js';

/** What wasm-build/tvm/compile_lib.py compiles. */
export const COMPILABLE = { modelTypes: ['baichuan'], quantizations: ['q0f32', 'q4f32_1', 'q4f16_1'] } as const;

const WASM_BUILD = resolve(dirname(fileURLToPath(import.meta.url)), '../../../wasm-build/tvm');

export interface CompileLibOptions {
  /** The library to write; default `<artifact dir>-webgpu.wasm` beside the artifact. */
  out?: string;
  /** The toolchain folder (venv, compiled runtime); default wasm-build/tvm/toolchain.sh's. */
  toolchain?: string;
  /** Link without wasm-opt -O3: seconds instead of minutes, a library ~1.3× larger gzipped (tests). */
  quick?: boolean;
  /** A line of progress (the toolchain's and the compiler's), without its newline. */
  onProgress?: (line: string) => void;
}

export interface CompiledLib {
  out: string;
  bytes: number;
  seconds: number;
  /** Parameters checked against the artifact's tensor-cache.json, or undefined when it has none. */
  checkedParams?: number;
}

/** The library's default path: `models/poetry/q4f32_1` → `models/poetry/q4f32_1-webgpu.wasm`. */
export function defaultLibPath(artifactDir: string): string {
  const dir = resolve(artifactDir);
  return join(dirname(dir), `${basename(dir)}-webgpu.wasm`);
}

/** Throws BadArtifactError unless the artifact's config is one compile_lib.py compiles. */
export function checkCompilable(artifactDir: string): ChatConfigJson {
  const path = join(artifactDir, CHAT_CONFIG_FILE);
  if (!existsSync(path)) throw new BadArtifactError(`${artifactDir}: no ${CHAT_CONFIG_FILE}, so not an artifact of ours (write one with \`webchuan convert\`)`);
  let config: ChatConfigJson;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as ChatConfigJson;
  } catch (error) {
    throw new BadArtifactError(`${path}: not JSON (${(error as Error).message})`);
  }
  if (!(COMPILABLE.modelTypes as readonly string[]).includes(config.model_type)) {
    throw new BadArtifactError(`${path}: model_type "${config.model_type}" cannot be compiled; compile-lib compiles ${COMPILABLE.modelTypes.join(', ')}`);
  }
  if (!(COMPILABLE.quantizations as readonly string[]).includes(config.quantization)) {
    throw new BadArtifactError(`${path}: quantization "${config.quantization}" cannot be compiled (one of ${COMPILABLE.quantizations.join(', ')})`);
  }
  const m = (config as { model_config?: Record<string, unknown> }).model_config ?? {};
  const missing = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'rms_norm_eps'].filter((k) => typeof m[k] !== 'number');
  if (missing.length) throw new BadArtifactError(`${path}: model_config lacks ${missing.join(', ')}`);
  return config;
}

/** Throws OutputPathError unless `out` may receive a library: a new `.wasm` path, or a model library already. */
export function checkLibOutput(out: string): void {
  if (!out.endsWith('.wasm')) throw new OutputPathError(out, 'a model library is a .wasm file: end --out with .wasm');
  if (!existsSync(out)) {
    if (!existsSync(dirname(resolve(out)))) throw new OutputPathError(out, `its folder ${dirname(resolve(out))} does not exist`);
    return;
  }
  if (lstatSync(out).isSymbolicLink()) throw new OutputPathError(out, 'is a symbolic link: refusing to replace it; give the path of the file itself, or a new one');
  if (!statSync(out).isFile()) throw new OutputPathError(out, 'is not a file');
  try {
    readModelLibMetadata(new Uint8Array(readFileSync(out)));
  } catch {
    throw new OutputPathError(out, 'exists and is not a model library: it is not ours to replace (choose another --out)');
  }
}

/** Runs a command, handing each line of its stderr to `onLine`; resolves to its stdout. */
function run(command: string, args: string[], onLine: (line: string) => void): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let pending = '';
    const lines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        onLine(line);
      }
    });
    child.on('error', (error) => reject(new Error(`could not run ${command}: ${error.message}`)));
    child.on('close', (code) => {
      if (pending) {
        lines.push(pending);
        onLine(pending);
      }
      if (code === 0) return resolvePromise(stdout);
      // compile_lib.py and toolchain.sh say what is wrong in their last line (status 2: the input or a missing tool).
      const last = lines.filter((l) => l.trim()).at(-1) ?? `${basename(command)} exited with status ${code}`;
      reject(code === 2 ? new BadArtifactError(last.replace(/^(compile-lib|toolchain): /, '')) : new Error(`${basename(args[0] ?? command)} failed (status ${code}): ${last}`));
    });
  });
}

/** Makes the toolchain (once; a no-op after) and returns its folder. */
export async function ensureToolchain(options: Pick<CompileLibOptions, 'toolchain' | 'onProgress'> = {}): Promise<string> {
  const args = [join(WASM_BUILD, 'toolchain.sh'), ...(options.toolchain ? [options.toolchain] : [])];
  const stdout = await run('bash', args, options.onProgress ?? (() => undefined));
  return stdout.trim().split('\n').at(-1)!;
}

export async function compileLib(artifactDir: string, options: CompileLibOptions = {}): Promise<CompiledLib> {
  const start = performance.now();
  const out = resolve(options.out ?? defaultLibPath(artifactDir));
  checkCompilable(artifactDir);
  checkLibOutput(out);
  const hasCache = [TENSOR_CACHE_FILE, LEGACY_TENSOR_CACHE_FILE].some((f) => existsSync(join(artifactDir, f)));
  const progress = options.onProgress ?? (() => undefined);

  const toolchain = await ensureToolchain(options);
  // A marked staging folder beside --out (output-dir.ts): an unpredictable name, removed by any
  // terminating signal, and by the next run if SIGKILL left it. emcc picks what to write by the
  // extension: the partial file keeps --out's name, .wasm included.
  const staging = makeStagingFolder(out);
  const untrack = removeIfInterrupted(staging);
  const partial = join(staging, basename(out));
  try {
    await run(join(toolchain, 'venv/bin/python'), [join(WASM_BUILD, 'compile_lib.py'), join(artifactDir, CHAT_CONFIG_FILE), partial, toolchain, ...(options.quick ? ['--quick'] : [])], progress);
    let checkedParams: number | undefined;
    if (hasCache) {
      const lib = readModelLibMetadata(new Uint8Array(await readFile(partial)));
      const { chatConfig, cache } = await readArtifactIndex(directorySource(artifactDir));
      const differences = modelLibDifferences(lib, cache, chatConfig);
      if (differences.length) throw new BadArtifactError(describeModelLibMismatch(differences, out, artifactDir));
      checkedParams = lib.params.length;
    }
    checkLibOutput(out); // again: the compilation took minutes
    renameSync(partial, out);
    return { out, bytes: statSync(out).size, seconds: (performance.now() - start) / 1000, checkedParams };
  } finally {
    rmSync(staging, { recursive: true, force: true });
    untrack();
  }
}
