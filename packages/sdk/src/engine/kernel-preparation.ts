/**
 * The kernels of one load, prepared while the weights are still on their way: which kernel set to
 * run (`auto` measures it once per adapter, model shape and engine, then reuses the stored record)
 * and the pipelines of the first request's step sizes compiled ahead into the KernelCache the forward
 * pass will use, so that the first request after "ready" compiles nothing.
 *
 *   const prep = new KernelPreparation(device, { config, quantization, kvDtype, contextWindow, maxBatchTokens, store });
 *   const { choice } = await prep.choose();   // measures, or reads the record (during the download)
 *   await prep.compile(choice, [1, 16]);       // createComputePipelineAsync for the first request's step sizes
 *   new ForwardPass(device, config, weights, { kernels: choice, kernelCache: prep.cache, ... })
 */
import { KernelCache, type StepShape } from '../gpu/kernel.js';
import { candidateSelections, choiceOf, chooseKernels, kernelOptions, selectionName, STEP_KINDS, type KernelChoice, type KernelOption, type KernelPreference, type StepKind } from '../gpu/variants.js';
import { distinctStepSizes } from './forward.js';
import { timeKernelOptions, timestampClock, wallClock, type TimingProgress } from './kernel-timing.js';
import { adapterIdentity, pickKernels, tuningKey, usableRecord, type KernelChoiceStore, type KernelTuningRecord } from './kernel-tuning.js';
import { ModelSample, type SampledModel } from './model-sample.js';

/** What the kernel work of a load is doing, for progress reports. */
export interface KernelProgress {
  /**
   * `measuring`: timing the candidate kernels (`auto`, first load of this model on this GPU);
   * `compiling`: compiling the pipelines the first request needs and running each once (`done` of `total`).
   */
  stage: 'measuring' | 'compiling';
  done: number;
  total: number;
}

/** The kernel set a load runs, and where the decision came from. */
export interface PreparedKernels {
  choice: KernelChoice;
  /**
   * `measured`: timed during this load; `stored`: a record measured earlier on this adapter for this
   * model shape and engine; `fixed`: `fast` or `baseline` was asked for.
   */
  source: 'measured' | 'stored' | 'fixed';
  record?: KernelTuningRecord;
}

export interface KernelPreparationOptions extends SampledModel {
  /** Default `auto`. */
  kernels?: KernelPreference;
  /** Where `auto` finds and keeps its records; without one it measures at every load. */
  store?: KernelChoiceStore;
  /** Progress of the measurement (compiling the candidates, then the timed passes). */
  onProgress?: (p: KernelProgress) => void;
  /** Stop timing rounds after this long (default 20 s; the estimates keep the rounds done). */
  timingBudgetMs?: number;
  /** How pipelines compile ahead (gpu/kernel.ts's KernelCache): `async` (default) or `blocking` (Node). */
  compileAhead?: 'async' | 'blocking';
}

export class KernelPreparation {
  /** The pipelines compiled for this load: give it to the ForwardPass (`kernelCache`). */
  readonly cache: KernelCache;
  private chosen?: Promise<PreparedKernels>;
  private decided = false;
  private readonly compiled = new Map<string, Compiling>();

  constructor(
    private readonly device: GPUDevice,
    readonly options: KernelPreparationOptions,
  ) {
    this.cache = new KernelCache(device, { compileAhead: options.compileAhead });
  }

  /** The options of each step kind on this device for this model. */
  get kernelOptions(): Record<StepKind, KernelOption[]> {
    return kernelOptions(this.device.features, this.options.quantization === 'q4f16_1');
  }

  /** The kernel set to run: fixed, stored, or measured now (once; later calls share the answer). */
  choose(): Promise<PreparedKernels> {
    this.chosen ??= this.chooseNow().finally(() => (this.decided = true));
    return this.chosen;
  }

  /** True once choose() has its answer (a load that still waits for it reports 'measuring'). */
  get chosenYet(): boolean {
    return this.decided;
  }

  /** Measures afresh, ignoring and not writing the store (`bench --kernels all` reports what it finds). */
  measure(): Promise<PreparedKernels> {
    return this.measureWith(undefined);
  }

  private async chooseNow(): Promise<PreparedKernels> {
    const preference = this.options.kernels ?? 'auto';
    if (preference !== 'auto') return { choice: chooseKernels(this.device.features, preference), source: 'fixed' };
    return this.measureWith(this.options.store);
  }

  private async measureWith(store: KernelChoiceStore | undefined): Promise<PreparedKernels> {
    const started = performance.now();
    const options = this.kernelOptions;
    const sample = new ModelSample(this.device, this.cache, this.options, 'sample');
    try {
      const key = this.keyOf(sample, options);
      const stored = store ? await store.get(key).catch(() => undefined) : undefined;
      if (usableRecord(stored, key, options)) return { choice: choiceOf(stored.selection, options), source: 'stored', record: stored };
      const writeStep = (shape: StepShape) => sample.writeStep(shape);
      const clock = this.device.features.has('timestamp-query') ? timestampClock(this.device, writeStep) : wallClock(this.device, writeStep);
      const onProgress = this.options.onProgress;
      const estimates = await timeKernelOptions(sample, options, clock, {
        budgetMs: this.options.timingBudgetMs ?? 20_000,
        onProgress: onProgress && ((p: TimingProgress) => onProgress({ stage: 'measuring', ...p })),
      });
      const selection = pickKernels(estimates, options);
      const round = (ms: number) => Number(ms.toPrecision(4));
      const c = this.options.config;
      const record: KernelTuningRecord = {
        key,
        selection,
        estimates: Object.fromEntries(STEP_KINDS.map((k) => [k, Object.fromEntries(Object.entries(estimates[k]).map(([o, ms]) => [o, round(ms)]))])) as KernelTuningRecord['estimates'],
        clock: clock.kind,
        measureMs: Math.round(performance.now() - started),
        measuredAt: new Date().toISOString(),
        adapter: describeAdapter(this.device),
        model: `${c.modelType} ${c.numLayers}×${c.hiddenSize} (${c.intermediateSize} ffn, ${c.vocabSize} vocab) ${this.options.quantization}, context ${this.options.contextWindow}, batch ${this.options.maxBatchTokens}: chose ${selectionName(selection)}`,
      };
      await store?.put(record).catch((error: unknown) => console.warn(`webchuan: could not keep the kernel choice: ${(error as Error).message}`));
      return { choice: choiceOf(selection, options), source: 'measured', record };
    } finally {
      sample.destroy();
    }
  }

  /** The record key: adapter, model and run-time sizes, and every candidate pipeline of every step size. */
  private keyOf(sample: ModelSample, options: Record<StepKind, KernelOption[]>): string {
    const o = this.options;
    const c = o.config;
    const pipelines: string[] = [];
    for (const selection of candidateSelections(options)) {
      const choice = choiceOf(selection, options);
      const sizes = distinctStepSizes(sample.steps(choice).body, o.maxBatchTokens);
      pipelines.push(...sample.pipelines(choice, sizes).map((d) => d.pipelineKey));
    }
    const model = {
      modelType: c.modelType,
      hiddenSize: c.hiddenSize,
      intermediateSize: c.intermediateSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      vocabSize: c.vocabSize,
      tieWordEmbeddings: c.tieWordEmbeddings,
      quantization: o.quantization,
      kvDtype: o.kvDtype,
      contextWindow: o.contextWindow,
      maxBatchTokens: o.maxBatchTokens,
    };
    return tuningKey(adapterIdentity(this.device), model, pipelines);
  }

  /**
   * Compiles ahead (createComputePipelineAsync) every pipeline `choice` uses for steps of these token
   * counts (default: every distinct size of this load); once per choice and sizes, later calls share
   * the work. `onProgress` hears how far it is, from now on (a load that started compiling during the
   * download listens in once the weights are up).
   */
  compile(choice: KernelChoice, sizes?: readonly number[], onProgress?: (p: KernelProgress) => void): Promise<void> {
    const key = `${JSON.stringify(choice)}|${sizes?.join(',') ?? 'all'}`;
    let compiling = this.compiled.get(key);
    if (!compiling) {
      compiling = { progress: { stage: 'compiling', done: 0, total: 0 }, listeners: new Set(), done: Promise.resolve() };
      compiling.done = this.compileNow(choice, sizes, compiling);
      this.compiled.set(key, compiling);
    }
    if (onProgress) {
      compiling.listeners.add(onProgress);
      onProgress({ ...compiling.progress });
    }
    return compiling.done;
  }

  private async compileNow(choice: KernelChoice, only: readonly number[] | undefined, compiling: Compiling): Promise<void> {
    const plan = new ModelSample(this.device, this.cache, this.options, 'none');
    try {
      const sizes = only ?? distinctStepSizes(plan.steps(choice).body, this.options.maxBatchTokens);
      const pipelines = plan.pipelines(choice, sizes);
      const report = (done: number) => {
        compiling.progress = { stage: 'compiling', done, total: pipelines.length };
        for (const listener of compiling.listeners) listener({ ...compiling.progress });
      };
      report(0);
      let done = 0;
      if (this.options.compileAhead !== 'blocking') {
        await Promise.all(pipelines.map((d) => d.prepare().then(() => report(++done))));
        return;
      }
      // Blocking creation returns at once in a browser, where the GPU process compiles in order: a
      // pipeline is compiled once the queue has caught up with it, which is what `done` counts.
      for (const d of pipelines) {
        await d.prepare();
        await this.device.queue.onSubmittedWorkDone();
        report(++done);
      }
    } finally {
      plan.destroy();
    }
  }
}

/** A compilation under way: how far it is and who listens. */
interface Compiling {
  progress: KernelProgress;
  listeners: Set<(p: KernelProgress) => void>;
  done: Promise<void>;
}

/** The adapter in words: vendor, architecture, device, description. */
function describeAdapter(device: GPUDevice): string {
  const a = device.adapterInfo;
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ');
}
