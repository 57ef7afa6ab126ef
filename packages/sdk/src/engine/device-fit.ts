/**
 * "Can this device run it, on which path, how fast?", before anything is downloaded: the WebGPU
 * engine's own requirements for the model (engineFit, the check the worker applies before fetching a
 * shard) against this adapter's limits, whether the adapter is a software emulation, the CPU path's
 * memory needs (cpuContextWindow, the CPU worker's own check) and a short probe of this CPU, and the
 * site's free storage. With `backend: 'auto'` (the SDK's default) it names the path createEngine
 * would take.
 */
import type { BackendChoice } from '../client/protocol.js';
import type { CpuCapabilities } from '../cpu/capabilities.js';
import { cpuCapabilities, cpuThreads } from '../cpu/capabilities.js';
import { cpuContextWindow, cpuDecodeBytesPerToken } from '../cpu/memory.js';
import { cpuSecondsPerToken, probeCpuBytesPerSecond } from '../cpu/probe.js';
import { DEFAULT_LIMITS, type AdapterCapabilities, type LimitName, type SplitMatrix } from '../gpu/limits.js';
import { parseChatConfig, type ChatConfigJson } from '../model/artifact.js';
import { CpuUnavailableError, formatBytes, InvalidRequestError } from '../errors.js';
import { engineFit } from './requirements.js';

/** An adapter as a page sees it: limits, features and what GPUAdapterInfo says. */
export interface AdapterFacts extends AdapterCapabilities {
  vendor?: string;
  architecture?: string;
  description?: string;
  /** GPUAdapterInfo.isFallbackAdapter: the browser's own software implementation. */
  isFallbackAdapter?: boolean;
}

/** The CPU as the CPU path sees it: what its WebAssembly can do, and a probe of its speed. */
export interface CpuFacts extends CpuCapabilities {
  /** Bytes per second one thread streamed in probeCpuBytesPerSecond(). */
  probeBytesPerSecond: number;
}

export interface DeviceFacts {
  /** undefined: the browser has no WebGPU; null: it has, but offers no adapter. */
  adapter: AdapterFacts | null | undefined;
  /** navigator.storage.estimate(), where the browser has it. */
  storage?: { quota: number; usage: number };
  /** The CPU path's facts; without them the verdict speaks of the WebGPU engine only. */
  cpu?: CpuFacts;
}

export interface ModelFacts {
  /** The artifact's `mlc-chat-config.json` (or the part of it naming type, quantization and shape). */
  chatConfig: ChatConfigJson;
  /** Bytes of all its shards. */
  downloadBytes: number;
  /** Bytes of it already in this browser's cache. */
  cachedBytes?: number;
  contextWindow?: number;
}

interface Figures {
  /** GPU memory the WebGPU engine would take (weights, KV cache, activations). */
  gpuBytes: number;
  downloadBytes: number;
  /**
   * What could not be checked because the browser reported it as no number (a GPU limit or the
   * storage quota as NaN, say), each as a phrase; empty when everything was checked. The summary
   * says so too.
   */
  unchecked: string[];
  /**
   * Weight matrices larger than this GPU binds at once, which the engine holds as bands of rows (a
   * float32 Baichuan-7B's 1 GB embedding on a phone's 128 MiB bindings); empty when none is.
   */
  split: SplitMatrix[];
}

/**
 * `path`: which engine would run the model — `'webgpu'` (webchuan's engine), `'cpu'` (llama.cpp in
 * WebAssembly) — or null where neither can.
 */
export type DeviceVerdict =
  | (Figures & { kind: 'runs'; path: 'webgpu'; summary: string })
  | (Figures & { kind: 'software'; path: 'webgpu'; summary: string; secondsPerToken: number })
  | (Figures & { kind: 'cpu'; path: 'cpu'; summary: string; tokensPerSecond: number; threads: number; memoryBytes: number; why: string })
  | (Figures & { kind: 'does-not-fit'; path: null; summary: string; reasons: string[] })
  | (Figures & { kind: 'unknown'; path: null; summary: string })
  | (Figures & { kind: 'no-webgpu'; path: null; summary: string });

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;

/** True for a GPU emulated on the CPU (SwiftShader, llvmpipe, WARP…), whatever the browser calls it. */
export function isSoftwareAdapter(a: AdapterFacts): boolean {
  return a.isFallbackAdapter === true || SOFTWARE.test(`${a.vendor ?? ''} ${a.architecture ?? ''} ${a.description ?? ''}`);
}

/**
 * A software GPU's decode speed, measured with this engine on SwiftShader in Chromium on a 2-core
 * machine: a fixed cost per token (some hundred dispatches, each costing far more than on a GPU) plus
 * streaming the weights at the rate the Baichuan-7B-shaped benchmark reached there.
 */
const SOFTWARE_SECONDS_PER_TOKEN = 0.05;
const SOFTWARE_WEIGHT_BYTES_PER_SECOND = 25e6;

/** Seconds per decoded token to expect on a software GPU for `weightBytes` of weights. */
export function softwareSecondsPerToken(weightBytes: number): number {
  return SOFTWARE_SECONDS_PER_TOKEN + weightBytes / SOFTWARE_WEIGHT_BYTES_PER_SECOND;
}

const seconds = (s: number) => (s < 1 ? `${s.toFixed(1)} s` : s < 100 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const shown = (v: unknown) => (typeof v === 'number' ? String(v) : v === undefined ? 'missing' : (JSON.stringify(v) ?? String(v)));
const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as LimitName[];
const notChecked = (unchecked: readonly string[]) => (unchecked.length ? ` Not checked: ${unchecked.join('; ')}.` : '');

/**
 * The adapter's limits as the fit check may use them. A limit the browser does not report is WebGPU's
 * default (every adapter has at least that); one it reports as something other than a size (NaN, a
 * string, Infinity) is unknown: it takes part in no "does not fit" (Infinity here) and is named.
 */
function readableLimits(adapter: AdapterFacts): { capabilities: AdapterCapabilities; unknown: LimitName[] } {
  const reported = (adapter.limits ?? {}) as Record<string, unknown>;
  const limits: Partial<Record<LimitName, number>> = {};
  const unknown: LimitName[] = [];
  for (const name of LIMIT_NAMES) {
    const v = reported[name];
    if (v === undefined) continue;
    if (isSize(v)) limits[name] = v;
    else {
      limits[name] = Infinity;
      unknown.push(name);
    }
  }
  const features = adapter.features;
  const iterable = features != null && typeof (features as Iterable<string>)[Symbol.iterator] === 'function';
  return { capabilities: { limits, features: iterable ? [...features].filter((f) => typeof f === 'string') : [] }, unknown };
}

export function deviceVerdict(model: ModelFacts, device: DeviceFacts, options: { backend?: BackendChoice } = {}): DeviceVerdict {
  if (!isSize(model.downloadBytes)) throw new InvalidRequestError('downloadBytes', `downloadBytes: must be a number of bytes, got ${shown(model.downloadBytes)}`);
  if (model.contextWindow !== undefined && !(Number.isInteger(model.contextWindow) && model.contextWindow > 0)) {
    throw new InvalidRequestError('contextWindow', `contextWindow: must be a positive integer, got ${shown(model.contextWindow)}`);
  }
  const backend = options.backend ?? 'auto';
  const gpu = webgpuVerdict(model, device);
  if (backend === 'webchuan' || (backend === 'auto' && !device.cpu)) return gpu;
  if (backend === 'auto' && gpu.kind === 'runs') return gpu;
  if (!device.cpu) return { ...gpu, kind: 'no-webgpu', path: null, summary: 'The CPU path needs the facts describeDevice() gathers about this CPU.' };
  const why =
    gpu.kind === 'software'
      ? 'the only GPU here is a software one'
      : gpu.kind === 'does-not-fit' && device.adapter
        ? `the GPU cannot hold it (${gpu.reasons.join('; ')})`
        : gpu.kind === 'unknown'
          ? "this browser reports the GPU's limits as no numbers"
          : 'no WebGPU here';
  return cpuVerdict(model, device, device.cpu, gpu, backend === 'cpu' ? 'the CPU path was asked for' : why);
}

/** The WebGPU engine's verdict: runs, runs on a software GPU, does not fit, cannot tell, or no WebGPU. */
function webgpuVerdict(model: ModelFacts, device: DeviceFacts): DeviceVerdict {
  const adapter = device.adapter;
  // Limits that no adapter is below (WebGPU's defaults) stand in where there is none, for the figures.
  const { capabilities, unknown } = adapter ? readableLimits(adapter) : { capabilities: { limits: {}, features: [] }, unknown: [] };
  const { needs, fit } = engineFit(model.chatConfig, capabilities, model.contextWindow);
  const unchecked = unknown.map((name) => {
    const needed = needs.limits[name] ?? 0;
    const what = name === 'maxStorageBufferBindingSize' || name === 'maxBufferSize' ? `a ${formatBytes(needed)} buffer` : `${needed}`;
    return `${name} (this browser reports ${shown(adapter?.limits?.[name])}; the model needs ${what})`;
  });
  const figures: Figures = { gpuBytes: needs.totalBytes, downloadBytes: model.downloadBytes, unchecked, split: fit.ok ? fit.split : [] };
  const bindingLimit = capabilities.limits.maxStorageBufferBindingSize ?? DEFAULT_LIMITS.maxStorageBufferBindingSize!;
  const splitNote =
    figures.split.length === 0 ? '' : ` (${figures.split.length} of its weight tensors are split into bands to fit this GPU's ${Math.floor(bindingLimit / 2 ** 20)} MiB buffer bindings)`;
  if (adapter === undefined) return { ...figures, kind: 'no-webgpu', path: null, summary: 'This browser has no WebGPU: use a recent Chrome, Edge or Safari with hardware acceleration on.' };
  if (adapter === null) return { ...figures, kind: 'no-webgpu', path: null, summary: 'WebGPU is here, but the browser offers no GPU adapter (a blocklisted GPU or driver).' };
  const reasons = fit.ok ? [] : fit.problems.map((p) => p.message);
  const storage = storageCheck(model, device);
  if (storage.problem) reasons.push(storage.problem);
  if (storage.unchecked) unchecked.push(storage.unchecked);
  if (reasons.length > 0) return { ...figures, kind: 'does-not-fit', path: null, summary: `Does not fit: ${reasons.join('; ')}.`, reasons };
  if (unknown.length > 0) return { ...figures, kind: 'unknown', path: null, summary: `Cannot tell whether it runs here: the GPU's limits are not all numbers.${notChecked(unchecked)}` };
  if (isSoftwareAdapter(adapter)) {
    const weights = needs.buffers.filter((b) => b.scales === 'weights').reduce((n, b) => n + b.bytes * b.count, 0);
    const secondsPerToken = softwareSecondsPerToken(weights);
    return { ...figures, kind: 'software', path: 'webgpu', secondsPerToken, summary: `Runs${splitNote}, but on a software GPU (the CPU emulating one): expect about ${seconds(secondsPerToken)} per token.${notChecked(unchecked)}` };
  }
  return { ...figures, kind: 'runs', path: 'webgpu', summary: unchecked.length ? `Runs on this GPU${splitNote}.${notChecked(unchecked)}` : `Runs here${splitNote}.` };
}

/**
 * Whether the site may store what is left to download: a problem with the numbers, or — where the
 * browser reports its quota or usage as no number — what could not be checked. A cached size that is
 * no number counts as nothing cached (the check errs on the safe side).
 */
function storageCheck(model: ModelFacts, device: DeviceFacts): { problem?: string; unchecked?: string } {
  const cached = isSize(model.cachedBytes) ? model.cachedBytes : 0;
  const toStore = Math.max(0, model.downloadBytes - cached);
  const storage = device.storage;
  if (!storage || toStore <= 0) return {};
  if (!isSize(storage.quota) || !isSize(storage.usage)) {
    return { unchecked: `storage (this browser reports its quota as ${shown(storage.quota)} and its usage as ${shown(storage.usage)}; the model needs ${formatBytes(toStore)})` };
  }
  const free = Math.max(0, storage.quota - storage.usage);
  return toStore > free ? { problem: `needs ${formatBytes(toStore)} of storage, this site may use ${formatBytes(free)} more` } : {};
}

/** The CPU path's verdict: its memory check, the storage, and the decode speed the probe predicts. */
function cpuVerdict(model: ModelFacts, device: DeviceFacts, cpu: CpuFacts, gpu: DeviceVerdict, why: string): DeviceVerdict {
  const unchecked: string[] = [];
  const figures: Figures = { gpuBytes: gpu.gpuBytes, downloadBytes: model.downloadBytes, unchecked, split: [] };
  const reasons: string[] = [];
  if (!cpu.wasm) reasons.push("this browser's WebAssembly lacks SIMD or exception handling, which llama.cpp needs");
  const info = parseChatConfig(model.chatConfig);
  let memoryBytes = 0;
  try {
    memoryBytes = cpuContextWindow(info.config, info.quantization, model.contextWindow).totalBytes;
  } catch (error) {
    if (!(error instanceof CpuUnavailableError)) throw error;
    reasons.push(error.message.replace(/^The CPU path cannot hold this model: it /, 'on the CPU, it ').replace(/\.$/, ''));
  }
  const storage = storageCheck(model, device);
  if (storage.problem) reasons.push(storage.problem);
  if (storage.unchecked) unchecked.push(storage.unchecked);
  if (reasons.length > 0) {
    const all = gpu.kind === 'does-not-fit' && device.adapter ? [...gpu.reasons, ...reasons] : reasons;
    return { ...figures, kind: 'does-not-fit', path: null, summary: `Does not fit: ${all.join('; ')}.`, reasons: all };
  }
  const threads = cpuThreads(cpu);
  const secondsPerToken = cpuSecondsPerToken(cpuDecodeBytesPerToken(info.config, info.quantization), cpu.probeBytesPerSecond, threads);
  const tokensPerSecond = 1 / secondsPerToken;
  const rate = tokensPerSecond >= 1 ? `${Math.round(tokensPerSecond)} tokens/s` : `${seconds(secondsPerToken)} per token`;
  const build = cpu.memory64 ? '' : ', compat build';
  return {
    ...figures,
    kind: 'cpu',
    path: 'cpu',
    tokensPerSecond,
    threads,
    memoryBytes,
    why,
    summary: `Runs on the CPU (llama.cpp, ${threads} thread${threads === 1 ? '' : 's'}${build}) because ${why}: expect about ${rate}.${notChecked(unchecked)}`,
  };
}

/** This browser's adapter, storage and CPU (a ~60 ms probe), as deviceVerdict() reads them. */
export async function describeDevice(): Promise<DeviceFacts> {
  const nav = globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined;
  // A browser that does not say its quota leaves storage unchecked (not "unlimited").
  const storage = await nav?.storage?.estimate?.().then((e) => (e.quota === undefined ? undefined : { quota: e.quota, usage: e.usage ?? 0 }), () => undefined);
  const cpu: CpuFacts = { ...cpuCapabilities(), probeBytesPerSecond: await probeCpuBytesPerSecond() };
  if (!nav?.gpu) return { adapter: undefined, storage, cpu };
  const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return { adapter: null, storage, cpu };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) limits[key] = (adapter.limits as unknown as Record<string, number>)[key]!;
  return {
    adapter: { limits, features: [...adapter.features], vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: info.isFallbackAdapter },
    storage,
    cpu,
  };
}
