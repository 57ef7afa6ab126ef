/** Asks an adapter for a device able to hold a model's largest buffers. */

/** Thrown when the adapter's limits cannot hold the model. */
export class GpuLimitsError extends Error {
  override name = 'GpuLimitsError';
}

/**
 * A device with the adapter's largest buffer limits (a 7B model's embedding alone is 131 MB in 4-bit,
 * more than the 128 MiB WebGPU grants by default). `largestBufferBytes`, when known, is checked first.
 */
export async function requestModelDevice(adapter: GPUAdapter, largestBufferBytes = 0, label = 'webchuan'): Promise<GPUDevice> {
  const limits = adapter.limits;
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (largestBufferBytes > maxBinding) {
    throw new GpuLimitsError(
      `This GPU can bind buffers of at most ${maxBinding} bytes; the model needs ${largestBufferBytes}. ` +
        'Try a smaller context window or another GPU.',
    );
  }
  return adapter.requestDevice({
    label,
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
    },
  });
}
