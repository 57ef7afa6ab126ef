/**
 * What a GPU kernel is to the rest of the code: one descriptor beside each `.wgsl` file states the
 * kernel's whole contract — the WGSL it is assembled from, its bindings by name (slot and access), the
 * values of its WGSL `override` constants, the adapter features it needs and how many workgroups a
 * step dispatches. The forward pass and the tests both go through the descriptor, so nothing about a
 * kernel (ROWS, TILE, binding numbers) is restated anywhere else.
 *
 * The cache compiles each (descriptor, parameters) pair once, with explicit bind group layouts so
 * one bind group serves every pipeline that shares a binding shape (the decode matvec and the
 * prefill GEMM read the same weights through the same bind group). A load compiles ahead, with
 * createComputePipelineAsync (`prepare()`), the pipelines the first request will use, and the rest
 * after "ready"; a step whose pipelines are not compiled yet waits for them (`prepare(true)`, counted
 * in `compiles.late`) before it is recorded.
 */

/** How a kernel sees a binding: read-only storage, read-write storage, or a uniform block. */
export type BindingKind = 'read' | 'write' | 'uniform';

/** A binding's slot in group 0 and its access. */
export interface Binding {
  slot: number;
  kind: BindingKind;
}

/** The extent of one forward step: how many tokens it runs and the position of the first. */
export interface StepShape {
  tokens: number;
  startPos: number;
}

export type Grid = readonly [number, number] | readonly [number, number, number];

/**
 * A kernel's contract. `P` are the parameters it is specialised for (shapes, formats, variant
 * switches); `B` names its bindings. `bindings(p)` may leave names out (a float32 matrix has no
 * scales); every binding it lists must be given a buffer.
 */
export interface KernelDescriptor<P, B extends string> {
  readonly name: string;
  code(p: P): string;
  bindings(p: P): Partial<Record<B, Binding>>;
  constants(p: P): Record<string, number>;
  workgroups(p: P, step: StepShape): Grid;
  /** Adapter features the WGSL enables (`subgroups`, `shader-f16`). */
  features?(p: P): GPUFeatureName[];
}

/** Bytes of a WebGPU binding kind, for layouts. */
const BUFFER_TYPE: Record<BindingKind, GPUBufferBindingType> = {
  read: 'read-only-storage',
  write: 'storage',
  uniform: 'uniform',
};

/** Largest workgroup count WebGPU guarantees per dimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** Splits a 1-D workgroup count over x and y; kernels rebuild the index as x + y · num_workgroups.x. */
export function grid1D(workgroups: number): [number, number] {
  if (workgroups <= MAX_WORKGROUPS_PER_DIM) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(workgroups / y), y];
}

/** A dispatch ready to record: pipeline, bind group and grid rule. */
export interface Dispatch {
  /** The descriptor's name, for per-kernel timings. */
  readonly kernel: string;
  /** Identifies the pipeline (its code, constants and bindings): equal keys, one compiled pipeline. */
  readonly pipelineKey: string;
  /** Steps this dispatch runs for (all when absent): e.g. the decode matvec only for one token. */
  readonly when?: (step: StepShape) => boolean;
  /**
   * Records the dispatch. `firstWorkgroups` runs only the first n workgroups along x (at least one):
   * a sample of the rows for timing, or one workgroup to warm a pipeline up.
   */
  encode(pass: GPUComputePassEncoder, step: StepShape, firstWorkgroups?: number): void;
  /** The grid a step dispatches. */
  workgroups(step: StepShape): Grid;
  /**
   * Compiles the pipeline ahead of its first dispatch (createComputePipelineAsync). `needed`: a step
   * waits for it now (counted in `compiles.late` unless it was compiled already).
   */
  prepare(needed?: boolean): Promise<void>;
  /** True once the pipeline is compiled: recording the dispatch waits for nothing. */
  readonly compiled: boolean;
}

/** A pipeline compiled ahead by prepare(), or when first dispatched if nobody prepared it. */
interface LazyPipeline {
  readonly layout: GPUBindGroupLayout;
  readonly layoutKey: string;
  readonly key: string;
  get(): GPUComputePipeline;
  prepare(needed?: boolean): Promise<void>;
  readonly compiled: boolean;
}

/**
 * How many pipelines were compiled before any step needed them (`ahead`) and how many a step had to
 * wait for (`late`: compiled at its first use, or still compiling when it was needed).
 */
export interface CompileCounts {
  ahead: number;
  late: number;
}

/** A descriptor specialised for one set of parameters. */
export class Kernel<P, B extends string> {
  constructor(
    private readonly device: GPUDevice,
    readonly descriptor: KernelDescriptor<P, B>,
    readonly params: P,
    private readonly compiled: LazyPipeline,
  ) {}

  get pipeline(): GPUComputePipeline {
    return this.compiled.get();
  }

  get layout(): GPUBindGroupLayout {
    return this.compiled.layout;
  }

  /** Identifies the layout: kernels with equal keys can share bind groups. */
  get layoutKey(): string {
    return this.compiled.layoutKey;
  }

  /** Identifies the pipeline: code, constants and bindings. */
  get pipelineKey(): string {
    return this.compiled.key;
  }

  /** Compiles the pipeline ahead of its first dispatch (`needed`: a step waits for it now). */
  prepare(needed?: boolean): Promise<void> {
    return this.compiled.prepare(needed);
  }

  /**
   * A bind group over `buffers`, named as the descriptor names them: whole buffers, or a range of one
   * (a band of a split matrix writes its outputs at an offset of the output buffer).
   */
  bindGroup(buffers: Partial<Record<B, GPUBuffer | GPUBufferBinding>>, label?: string): GPUBindGroup {
    const slots = this.descriptor.bindings(this.params) as Partial<Record<string, Binding>>;
    const given = buffers as Partial<Record<string, GPUBuffer | GPUBufferBinding>>;
    const entries: GPUBindGroupEntry[] = [];
    for (const [name, binding] of Object.entries(slots)) {
      const buffer = given[name];
      if (!binding) continue;
      if (!buffer) throw new Error(`${this.descriptor.name}: no buffer for binding "${name}"`);
      entries.push({ binding: binding.slot, resource: 'buffer' in buffer ? buffer : { buffer } });
    }
    return this.device.createBindGroup({ label: label ?? this.descriptor.name, layout: this.layout, entries });
  }

  /**
   * Records this kernel with `bindGroup` (one made by this kernel or one sharing its layout);
   * `firstWorkgroups` limits the grid's x to its first n workgroups (see Dispatch.encode).
   */
  encodeWith(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, step: StepShape, firstWorkgroups?: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = this.descriptor.workgroups(this.params, step);
    pass.dispatchWorkgroups(firstWorkgroups === undefined ? x : Math.max(1, Math.min(x, firstWorkgroups)), y, z ?? 1);
  }

  /** This kernel bound to `buffers` once, dispatched every step (or those `when` accepts). */
  bind(buffers: Partial<Record<B, GPUBuffer | GPUBufferBinding>>, label?: string, when?: (step: StepShape) => boolean): Dispatch {
    return this.with(this.bindGroup(buffers, label), when);
  }

  /** This kernel with a bind group made elsewhere (by a kernel of the same layout). */
  with(group: GPUBindGroup, when?: (step: StepShape) => boolean): Dispatch {
    const pipeline = this.compiled;
    return {
      kernel: this.descriptor.name,
      pipelineKey: this.pipelineKey,
      when,
      encode: (pass, step, firstWorkgroups) => this.encodeWith(pass, group, step, firstWorkgroups),
      workgroups: (step) => this.descriptor.workgroups(this.params, step),
      prepare: (needed) => this.prepare(needed),
      get compiled() {
        return pipeline.compiled;
      },
    };
  }
}

export class KernelCache {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, LazyPipeline>();
  private readonly kernels = new Map<string, Kernel<unknown, string>>();
  /** Pipelines compiled so far, ahead of use or at their first dispatch (the wait a request should never see). */
  readonly compiles: CompileCounts = { ahead: 0, late: 0 };

  /**
   * `listing`: the cache only lists kernels (engine/kernel-variants.ts), so one needing a feature the
   * device lacks is listed rather than refused; nothing it lists can be dispatched on that device.
   * `compileAhead`: how prepare() compiles. `async` (default): createComputePipelineAsync; `blocking`:
   * createComputePipeline, which in a browser returns at once while the GPU process compiles in order
   * (measured faster on SwiftShader in Chromium), and in Node compiles at once (Dawn's asynchronous
   * creation measured 2.3× slower on SwiftShader: 27 pipelines of the poetry model, 82 s against 36 s).
   */
  constructor(
    readonly device: GPUDevice,
    private readonly options: { listing?: boolean; compileAhead?: 'async' | 'blocking' } = {},
  ) {}

  /** Every (descriptor, parameters) pair compiled so far: the kernels a forward pass assembled. */
  get specialisations(): { descriptor: KernelDescriptor<unknown, string>; params: unknown }[] {
    return [...this.kernels.values()].map((k) => ({ descriptor: k.descriptor, params: k.params }));
  }

  private layoutFor(bindings: Partial<Record<string, Binding>>): { layout: GPUBindGroupLayout; key: string } {
    const entries = Object.values(bindings)
      .filter((b): b is Binding => b !== undefined)
      .sort((a, b) => a.slot - b.slot);
    const key = entries.map((b) => `${b.slot}:${b.kind}`).join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: key,
        entries: entries.map((b) => ({ binding: b.slot, visibility: GPUShaderStage.COMPUTE, buffer: { type: BUFFER_TYPE[b.kind] } })),
      });
      this.layouts.set(key, layout);
    }
    return { layout, key };
  }

  /** `descriptor` specialised for `params`; pipelines are compiled once per distinct code and constants. */
  compile<P, B extends string>(descriptor: KernelDescriptor<P, B>, params: P): Kernel<P, B> {
    const kernelKey = `${descriptor.name}|${JSON.stringify(params)}`;
    const cached = this.kernels.get(kernelKey);
    if (cached) return cached as unknown as Kernel<P, B>;
    const code = descriptor.code(params);
    const constants = descriptor.constants(params);
    const bindings = descriptor.bindings(params) as Partial<Record<string, Binding>>;
    // Keyed by the source itself: two parameter sets may assemble the same code and constants.
    const pipelineKey = `${code}|${JSON.stringify(constants)}|${JSON.stringify(bindings)}`;
    let compiled = this.pipelines.get(pipelineKey);
    if (!compiled) {
      for (const feature of descriptor.features?.(params) ?? []) {
        if (!this.device.features.has(feature) && !this.options.listing) throw new Error(`${descriptor.name}: the device lacks the ${feature} feature`);
      }
      const { layout, key: layoutKey } = this.layoutFor(bindings);
      const device = this.device;
      const counts = this.compiles;
      const blocking = this.options.compileAhead === 'blocking';
      const describe = (): GPUComputePipelineDescriptor => ({
        label: descriptor.name,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: device.createShaderModule({ label: descriptor.name, code }), entryPoint: 'main', constants },
      });
      let pipeline: GPUComputePipeline | undefined;
      let pending: Promise<void> | undefined;
      /** A step waited for this pipeline: it counts as late, not ahead. */
      let waitedFor = false;
      compiled = {
        layout,
        layoutKey,
        key: pipelineKey,
        get compiled() {
          return pipeline !== undefined;
        },
        get() {
          if (!pipeline) {
            // Recorded without prepare(true) (a profile, a test): compile it now, blocking.
            pipeline = device.createComputePipeline(describe());
            counts.late++;
          }
          return pipeline;
        },
        prepare(needed = false) {
          if (pipeline) return Promise.resolve();
          if (needed) waitedFor = true;
          if (blocking) {
            pipeline = device.createComputePipeline(describe());
            counts[waitedFor ? 'late' : 'ahead']++;
            return Promise.resolve();
          }
          pending ??= device.createComputePipelineAsync(describe()).then((p) => {
            if (!pipeline) {
              pipeline = p;
              counts[waitedFor ? 'late' : 'ahead']++;
            }
          });
          return pending;
        },
      };
      this.pipelines.set(pipelineKey, compiled);
    }
    const kernel = new Kernel(this.device, descriptor, params, compiled);
    this.kernels.set(kernelKey, kernel as unknown as Kernel<unknown, string>);
    return kernel;
  }
}
