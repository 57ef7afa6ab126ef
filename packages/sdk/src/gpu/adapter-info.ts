/**
 * One line naming the GPU adapter a run is on and what it offers the engine: what every GPU test and
 * every `webchuan` command prints, so a result can always be traced to the driver that produced it
 * (a software Vulkan, a browser's fallback adapter, a real GPU).
 */

/** The part of a GPUAdapter (or GPUDevice) the line reads. */
export interface AdapterLike {
  readonly features: ReadonlySet<string> | Iterable<string>;
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  readonly info?: Partial<GPUAdapterInfo>;
}

/** The features the engine's kernel choice and benchmarks look at, in the order the line lists them. */
const ENGINE_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

const MiB = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * `llvmpipe: Mesa 25.0.7 … [mesa software, fallback] · shader-f16, subgroups (8), timestamp-query ·
 * storage binding 128 MiB, buffer 4096 MiB`. Absent engine features are named too (`no shader-f16`),
 * since what a run did not exercise matters as much as what it did.
 */
export function adapterLine(adapter: AdapterLike): string {
  const info = adapter.info ?? {};
  const features = new Set(adapter.features);
  const name = info.description || info.device || info.architecture || info.vendor || 'unnamed adapter';
  const kind = [info.vendor, info.architecture].filter(Boolean).join(' ');
  const tags = [kind, info.isFallbackAdapter ? 'fallback' : ''].filter(Boolean).join(', ');
  const listed = ENGINE_FEATURES.map((f) => {
    if (!features.has(f)) return `no ${f}`;
    if (f === 'subgroups' && info.subgroupMinSize) {
      const sizes = info.subgroupMinSize === info.subgroupMaxSize ? `${info.subgroupMinSize}` : `${info.subgroupMinSize}–${info.subgroupMaxSize}`;
      return `subgroups (${sizes})`;
    }
    return f;
  });
  const limits = `storage binding ${MiB(adapter.limits.maxStorageBufferBindingSize)}, buffer ${MiB(adapter.limits.maxBufferSize)}`;
  return `${name}${tags ? ` [${tags}]` : ''} · ${listed.join(', ')} · ${limits}`;
}

/** The line for a device: its adapter, with the features the device was given (what a run could use). */
export function deviceLine(device: GPUDevice): string {
  return adapterLine({ features: device.features, limits: device.limits, info: device.adapterInfo });
}
