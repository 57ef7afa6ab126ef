/**
 * The page side of the browser kernel test: every kernel variant the engine can assemble for
 * Baichuan-7B's shapes (engineKernelVariants), compiled by this browser's own WGSL compiler on a device
 * with WebGPU's default limits, each with what the compiler said.
 */
import { adapterLine } from '../../src/gpu/adapter-info.js';
import { chooseKernels } from '../../src/gpu/variants.js';
import { compileVariant, engineKernelVariants } from '../../src/engine/kernel-variants.js';
import { BAICHUAN_7B } from '../../src/model/config.js';

export interface CompiledVariant {
  key: string;
  name: string;
  features: string[];
  error?: string;
}

const kernels = {
  async compileAll(): Promise<{ adapter: string; features: string[]; chosen: ReturnType<typeof chooseKernels>; results: CompiledVariant[] }> {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const features = (['shader-f16', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredFeatures: features });
    const results: CompiledVariant[] = [];
    for (const v of engineKernelVariants(device, BAICHUAN_7B)) {
      results.push({ key: v.key, name: v.descriptor.name, features: v.features, error: await compileVariant(device, v) });
    }
    device.destroy();
    return { adapter: adapterLine(adapter), features: [...adapter.features], chosen: chooseKernels(adapter.features), results };
  },
};

declare global {
  interface Window {
    kernels: typeof kernels;
  }
}
window.kernels = kernels;
document.querySelector('#state')!.textContent = 'ready';
