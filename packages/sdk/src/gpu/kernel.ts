/**
 * What a GPU kernel is to the rest of the code: one descriptor beside each `.wgsl` file states the
 * kernel's whole contract — the WGSL it is assembled from, its bindings by name (slot and access), the
 * values of its WGSL `override` constants, the adapter features it needs and how many workgroups a
 * step dispatches. The forward pass and the tests both go through the descriptor, so nothing about a
 * kernel (ROWS, TILE, binding numbers) is restated anywhere else.
 *
 * The cache compiles each (descriptor, parameters) pair once, on first dispatch, with explicit bind group layouts so
 * one bind group serves every pipeline that shares a binding shape (the decode matvec and the
 * prefill GEMM read the same weights through the same bind group).
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
  /** Steps this dispatch runs for (all when absent): e.g. the decode matvec only for one token. */
  readonly when?: (step: StepShape) => boolean;
  encode(pass: GPUComputePassEncoder, step: StepShape): void;
  /** Compiles the pipeline now rather than at the first dispatch. */
  prepare(): void;
}

/** A pipeline compiled when first dispatched: a forward pass binds kernels for every batch size, most steps use few. */
interface LazyPipeline {
  readonly layout: GPUBindGroupLayout;
  readonly layoutKey: string;
  get(): GPUComputePipeline;
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

  /** Records this kernel with `bindGroup` (one made by this kernel or one sharing its layout). */
  encodeWith(pass: GPUComputePassEncoder, bindGroup: GPUBindGroup, step: StepShape): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = this.descriptor.workgroups(this.params, step);
    pass.dispatchWorkgroups(x, y, z ?? 1);
  }

  /** This kernel bound to `buffers` once, dispatched every step (or those `when` accepts). */
  bind(buffers: Partial<Record<B, GPUBuffer | GPUBufferBinding>>, label?: string, when?: (step: StepShape) => boolean): Dispatch {
    return this.with(this.bindGroup(buffers, label), when);
  }

  /** This kernel with a bind group made elsewhere (by a kernel of the same layout). */
  with(group: GPUBindGroup, when?: (step: StepShape) => boolean): Dispatch {
    return { kernel: this.descriptor.name, when, encode: (pass, step) => this.encodeWith(pass, group, step), prepare: () => void this.pipeline };
  }
}

export class KernelCache {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, LazyPipeline>();
  private readonly kernels = new Map<string, Kernel<unknown, string>>();

  /**
   * `listing`: the cache only lists kernels (engine/kernel-variants.ts), so one needing a feature the
   * device lacks is listed rather than refused; nothing it lists can be dispatched on that device.
   */
  constructor(
    readonly device: GPUDevice,
    private readonly options: { listing?: boolean } = {},
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
      let pipeline: GPUComputePipeline | undefined;
      compiled = {
        layout,
        layoutKey,
        get() {
          pipeline ??= device.createComputePipeline({
            label: descriptor.name,
            layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
            compute: { module: device.createShaderModule({ label: descriptor.name, code }), entryPoint: 'main', constants },
          });
          return pipeline;
        },
      };
      this.pipelines.set(pipelineKey, compiled);
    }
    const kernel = new Kernel(this.device, descriptor, params, compiled);
    this.kernels.set(kernelKey, kernel as unknown as Kernel<unknown, string>);
    return kernel;
  }
}
