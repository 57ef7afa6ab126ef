/** Asks an adapter for a device with exactly what a model needs, or says why it cannot. */
import { checkAdapter, type LimitProblem, type ModelGpuRequirements } from './limits.js';

/** Thrown before anything is uploaded when the adapter's limits cannot hold the model. */
export class GpuLimitsError extends Error {
  override name = 'GpuLimitsError';
  constructor(
    readonly problems: LimitProblem[],
    readonly suggestion: { contextWindow?: number; maxBatchTokens?: number } = {},
  ) {
    super(`The model does not fit this GPU: ${problems.map((p) => p.message).join('; ')}.`);
  }
}

/** Features used when present (subgroups for the decode matvec, shader-f16 for q4f16 arithmetic). */
const USEFUL_FEATURES: GPUFeatureName[] = ['subgroups', 'shader-f16'];

export interface DeviceOptions {
  label?: string;
  /** More features to request when the adapter has them (the benchmark asks for timestamp-query). */
  optionalFeatures?: GPUFeatureName[];
}

/**
 * A device for a model. With `needs` (from modelGpuRequirements) it checks the adapter first and
 * throws GpuLimitsError naming every limit that falls short, then requests exactly those limits
 * and the optional features the adapter has. Without it, it requests the adapter's largest buffer
 * limits (for callers that do not know the model yet).
 *
 * Errors the device does not report through an error scope go to console.warn (stderr in Node):
 * Dawn's Node binding would otherwise print them on stdout, where the CLI writes its results.
 */
export async function requestModelDevice(adapter: GPUAdapter, needs?: ModelGpuRequirements, options: DeviceOptions = {}): Promise<GPUDevice> {
  let requiredLimits: Record<string, number>;
  let features: GPUFeatureName[];
  if (needs) {
    const fit = checkAdapter(needs, adapter);
    if (!fit.ok) throw new GpuLimitsError(fit.problems, fit.suggestion);
    requiredLimits = fit.requiredLimits;
    features = fit.features;
  } else {
    requiredLimits = {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    };
    features = USEFUL_FEATURES.filter((f) => adapter.features.has(f));
  }
  for (const f of options.optionalFeatures ?? []) if (adapter.features.has(f) && !features.includes(f)) features.push(f);
  const device = await adapter.requestDevice({ label: options.label ?? 'webchuan', requiredLimits, requiredFeatures: features });
  device.addEventListener('uncapturederror', (event) => {
    event.preventDefault();
    console.warn(`webchuan: uncaptured WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
  });
  return device;
}
