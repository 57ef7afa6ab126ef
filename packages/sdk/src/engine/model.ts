/** A model ready to run: its artifact's metadata, its weights on the GPU and a forward pass. */
import { openArtifact, readTensors, type ArtifactInfo, type ArtifactSource, type NamedTensor } from '../model/artifact.js';
import { GpuWeights, type WeightOptions } from '../gpu/weights.js';
import type { KernelPreference } from '../gpu/variants.js';
import { defaultKvDtype } from '../model/quant.js';
import { firstRequestStepSizes, ForwardPass, type ForwardOptions } from './forward.js';
import type { KernelChoiceStore } from './kernel-tuning.js';
import { KernelPreparation, type KernelProgress, type PreparedKernels } from './kernel-preparation.js';

export interface LoadedModel {
  info: ArtifactInfo;
  weights: GpuWeights;
  forward: ForwardPass;
  /** The kernel set the forward pass runs, and whether it was measured, stored or fixed. */
  kernels: PreparedKernels;
  dispose(): void;
}

export interface LoadModelOptions extends Omit<ForwardOptions, 'kernels' | 'kernelCache'>, WeightOptions {
  tensors?: AsyncIterable<NamedTensor>;
  /** `auto` (default): measured on this device for this model; `fast` or `baseline`: fixed sets. */
  kernels?: KernelPreference;
  /** Where `auto` keeps its measurement between loads (IndexedDB in a tab, a file for the CLI). */
  kernelStore?: KernelChoiceStore;
  /** Kernel work already under way for this load (started while the model was downloading). */
  preparation?: KernelPreparation;
  /** Progress of the kernel work the load still waits for once the weights are on the GPU. */
  onKernels?: (p: KernelProgress) => void;
  /** How pipelines compile ahead: `async` (default, createComputePipelineAsync) or `blocking` (Node; see KernelCache). */
  compileAhead?: 'async' | 'blocking';
  /**
   * Compile ahead and run once the pipelines of a first request before returning (default true): its
   * decode step and a prompt of `firstPromptTokens` tokens; then, unless pipelines compile blocking,
   * every other step size compiles in the background, and a request that needs one still compiling
   * waits for it. False compiles each pipeline at its first use instead (tests that run a few step
   * sizes, benchmarks that build their own passes).
   */
  warm?: boolean;
  /** The prompt length the first request is expected to have (default TYPICAL_FIRST_PROMPT_TOKENS, 16). */
  firstPromptTokens?: number;
}

/** The sizes and precision a load of `info` runs with (loadModel's, and a preparation's started before it). */
export function loadSizes(info: ArtifactInfo, options: Pick<ForwardOptions, 'contextWindow' | 'maxBatchTokens' | 'kvDtype'> = {}) {
  const c = info.config;
  const contextWindow = Math.min(options.contextWindow ?? c.contextWindow, c.contextWindow);
  return {
    contextWindow,
    maxBatchTokens: Math.max(1, Math.min(options.maxBatchTokens ?? 512, info.prefillChunkSize, contextWindow)),
    kvDtype: options.kvDtype ?? defaultKvDtype(info.quantization),
  };
}

function kernelPreparation(device: GPUDevice, info: ArtifactInfo, options: LoadModelOptions): KernelPreparation {
  return new KernelPreparation(device, {
    config: info.config,
    quantization: info.quantization,
    ...loadSizes(info, options),
    kernels: options.kernels,
    store: options.kernelStore,
    compileAhead: options.compileAhead,
  });
}

/**
 * Starts the kernel work of a load of `info` before its weights arrive (a page starts it when the
 * download begins): the choice (`auto` measures, on scratch buffers of the model's shapes) and then,
 * unless `warm: false`, the compilation of the pipelines its first request needs. Give it to loadModel as `preparation`.
 */
export function prepareKernels(device: GPUDevice, info: ArtifactInfo, options: LoadModelOptions = {}): KernelPreparation {
  const preparation = kernelPreparation(device, info, options);
  if (options.warm === false) {
    void preparation.choose().catch(() => undefined); // the load compiles at first use: choose only
    return preparation;
  }
  const first = firstRequestStepSizes(loadSizes(info, options).maxBatchTokens, options.firstPromptTokens);
  void preparation
    .choose()
    .then((chosen) => preparation.compile(chosen.choice, first))
    .catch(() => undefined); // loadModel awaits the same promises and reports their errors
  return preparation;
}

/**
 * The load's kernel progress as a page shows it: the compile, then the forward pass's own
 * preparation and first run each count the same pipelines from 0, and "16 of 19" must not be
 * followed by "8 of 19". A count of a stage and total already passed is left out.
 */
function neverBackwards(report: ((p: KernelProgress) => void) | undefined): ((p: KernelProgress) => void) | undefined {
  if (!report) return undefined;
  let last: KernelProgress | undefined;
  return (p) => {
    if (last && p.stage === last.stage && p.total === last.total && p.done <= last.done) return;
    last = p;
    report(p);
  };
}

/**
 * Uploads an artifact's weights to `device` and prepares the forward pass. The kernel choice is made
 * before the upload (measuring, for `auto`, while the GPU has nothing else to do), the first request's
 * pipelines compile during it and have run once before this resolves; the others compile after.
 */
export async function loadModel(device: GPUDevice, source: ArtifactSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const { info, cache } = await openArtifact(source);
  const sizes = loadSizes(info, options);
  const warm = options.warm !== false;
  const first = firstRequestStepSizes(sizes.maxBatchTokens, options.firstPromptTokens);
  const preparation = options.preparation ?? kernelPreparation(device, info, options);
  const onKernels = neverBackwards(options.onKernels);
  if (!preparation.chosenYet) onKernels?.({ stage: 'measuring', done: 0, total: 1 });
  const kernels = await preparation.choose();
  // The pipelines compile while the weights upload (or already did, during the download).
  const compiling = warm ? preparation.compile(kernels.choice, first) : Promise.resolve();
  compiling.catch(() => undefined); // awaited below, after the upload
  const weights = await GpuWeights.upload(device, info.config, options.tensors ?? readTensors(source, cache), { maxBindingBytes: options.maxBindingBytes });
  let forward: ForwardPass | undefined;
  try {
    // Whatever is still compiling now is what the page waits for: report it.
    if (warm) await preparation.compile(kernels.choice, first, onKernels);
    forward = new ForwardPass(device, info.config, weights, { ...options, ...sizes, kernels: kernels.choice, kernelCache: preparation.cache });
    if (warm) {
      await forward.prepare(first, onKernels);
      await forward.warm(first, onKernels);
      // The other prompt sizes compile now, beside the first requests (createComputePipelineAsync
      // leaves the thread free); where compiling blocks (Node) each waits for its first use instead.
      if (options.compileAhead !== 'blocking') forward.prepare().catch(() => undefined);
    }
  } catch (error) {
    forward?.destroy();
    weights.destroy();
    throw error;
  }
  const pass = forward;
  return {
    info,
    weights,
    forward: pass,
    kernels,
    dispose() {
      pass.destroy();
      weights.destroy();
    },
  };
}
