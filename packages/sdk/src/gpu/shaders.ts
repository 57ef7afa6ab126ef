/** The WGSL sources, one file per kernel, and the weight formats that can be prepended to them. */
import argmax from './kernels/argmax.wgsl?raw';
import attention from './kernels/attention.wgsl?raw';
import embedding from './kernels/embedding.wgsl?raw';
import kvLoadF16 from './kernels/kv_load_f16.wgsl?raw';
import kvLoadF32 from './kernels/kv_load_f32.wgsl?raw';
import kvStoreF16 from './kernels/kv_store_f16.wgsl?raw';
import kvStoreF32 from './kernels/kv_store_f32.wgsl?raw';
import logitProcessor from './kernels/logit_processor.wgsl?raw';
import matmul from './kernels/matmul.wgsl?raw';
import matvec from './kernels/matvec.wgsl?raw';
import matvecBatch from './kernels/matvec_batch.wgsl?raw';
import rmsnorm from './kernels/rmsnorm.wgsl?raw';
import rope from './kernels/rope.wgsl?raw';
import swiglu from './kernels/swiglu.wgsl?raw';
import scalesF16 from './kernels/scales_f16.wgsl?raw';
import scalesF32 from './kernels/scales_f32.wgsl?raw';
import weightsF32 from './kernels/weights_f32.wgsl?raw';
import weightsQ4 from './kernels/weights_q4.wgsl?raw';

export const KERNELS = { argmax, attention, embedding, logitProcessor, matmul, matvec, matvecBatch, rmsnorm, rope, swiglu } as const;
export type KernelName = keyof typeof KERNELS;

/** How a matrix's weights are stored on the GPU. */
export type WeightFormat = 'f32' | 'q4f32' | 'q4f16';

export const WEIGHT_FORMAT_WGSL: Record<WeightFormat, string> = {
  f32: weightsF32,
  q4f32: scalesF32 + weightsQ4,
  q4f16: scalesF16 + weightsQ4,
};

/** How the KV cache is stored: float32, or half floats packed two per u32. */
export type KvDtype = 'f32' | 'f16';

/** KV formats: `store` is prepended to rope.wgsl, `load` to attention.wgsl. */
export const KV_FORMAT_WGSL: Record<KvDtype, { store: string; load: string }> = {
  f32: { store: kvStoreF32, load: kvLoadF32 },
  f16: { store: kvStoreF16, load: kvLoadF16 },
};
