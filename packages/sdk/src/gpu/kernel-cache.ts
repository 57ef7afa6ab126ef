/**
 * Compiles each (kernel, weight format, constants) combination once, with explicit bind group
 * layouts so one bind group serves every pipeline that shares a binding shape (the decode matvec and
 * the prefill matmul read the same weights through the same bind group).
 */

/** How a kernel sees a binding: read-only storage, read-write storage, or a uniform block. */
export type BindingKind = 'read' | 'write' | 'uniform';
export type BindingShape = Record<number, BindingKind>;

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const BUFFER_TYPE: Record<BindingKind, GPUBufferBindingType> = {
  read: 'read-only-storage',
  write: 'storage',
  uniform: 'uniform',
};

export class KernelCache {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, CompiledKernel>();

  constructor(private readonly device: GPUDevice) {}

  layoutFor(shape: BindingShape): GPUBindGroupLayout {
    const key = JSON.stringify(shape);
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: Object.entries(shape).map(([binding, kind]) => ({
          binding: Number(binding),
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: BUFFER_TYPE[kind] },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** The pipeline for `code` specialised by `constants` (WGSL override values). */
  get(label: string, code: string, constants: Record<string, number>, shape: BindingShape): CompiledKernel {
    // Keyed by the source itself: two kernels may share a label and constants but not their code.
    const key = `${code}|${JSON.stringify(constants)}|${JSON.stringify(shape)}`;
    let kernel = this.pipelines.get(key);
    if (!kernel) {
      const layout = this.layoutFor(shape);
      const module = this.device.createShaderModule({ label, code });
      const pipeline = this.device.createComputePipeline({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main', constants },
      });
      kernel = { pipeline, layout };
      this.pipelines.set(key, kernel);
    }
    return kernel;
  }

  bindGroup(kernel: CompiledKernel, buffers: Record<number, GPUBuffer>, label?: string): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: kernel.layout,
      entries: Object.entries(buffers).map(([binding, buffer]) => ({ binding: Number(binding), resource: { buffer } })),
    });
  }
}

/** Largest workgroup count WebGPU guarantees per dimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** Splits a 1-D workgroup count over x and y; kernels rebuild the index as x + y · num_workgroups.x. */
export function grid1D(workgroups: number): [number, number] {
  if (workgroups <= MAX_WORKGROUPS_PER_DIM) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(workgroups / y), y];
}
