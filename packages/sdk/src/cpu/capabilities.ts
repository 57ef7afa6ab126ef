/**
 * What llama.cpp's wasm needs of a browser, asked of the browser itself (a page or a worker alike):
 * WebAssembly with SIMD and exception handling for any build; Memory64 for the default build (the
 * compat build runs without it, and without JSPI); SharedArrayBuffer in a cross-origin isolated
 * context for threads. Both builds address at most 4 GiB of memory (65,536 pages of 64 KiB).
 */

/** A wasm module of one function `() -> v128` that makes a vector: valid only where SIMD is. */
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11];
/** A wasm module of one function with an empty `try … delegate`: valid only where exception handling is. */
const EXCEPTIONS_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 8, 1, 6, 0, 6, 64, 25, 11, 11];

/** The most memory either llama.cpp build can address: its Memory's maximum of 65,536 pages. */
export const WASM_MEMORY_LIMIT_BYTES = 65536 * 65536;

export interface CpuCapabilities {
  /** WebAssembly with SIMD and exception handling: without them no build runs. */
  wasm: boolean;
  /** The default build runs (Memory64); otherwise the compat build. */
  memory64: boolean;
  /** JavaScript Promise Integration: the default build reads the model straight from its Blob. */
  jspi: boolean;
  /** SharedArrayBuffer and cross-origin isolation: several threads. */
  threads: boolean;
  /** navigator.hardwareConcurrency (logical cores). */
  cores: number;
}

const validates = (bytes: number[]) => {
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
};

function hasMemory64(): boolean {
  try {
    // A 64-bit memory takes its sizes as BigInts; engines without Memory64 reject the descriptor.
    new WebAssembly.Memory({ address: 'i64', initial: 1n } as unknown as WebAssembly.MemoryDescriptor);
    return true;
  } catch {
    return false;
  }
}

export function cpuCapabilities(): CpuCapabilities {
  const wasm = typeof WebAssembly === 'object' && validates(SIMD_PROBE) && validates(EXCEPTIONS_PROBE);
  const scope = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } };
  return {
    wasm,
    memory64: wasm && hasMemory64(),
    jspi: wasm && 'Suspending' in WebAssembly,
    threads: scope.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function',
    cores: Math.max(1, scope.navigator?.hardwareConcurrency ?? 1),
  };
}

/**
 * Threads llama.cpp runs on: one per physical core (about half the logical ones, as wllama picks)
 * where the page is cross-origin isolated, one otherwise; `requested` overrides where threads exist.
 */
export function cpuThreads(c: CpuCapabilities, requested?: number): number {
  if (!c.threads) return 1;
  return Math.max(1, Math.min(requested ?? Math.floor(c.cores / 2), c.cores));
}
