/**
 * A short probe of this device's CPU, for "how fast would the CPU path run here?" before anything is
 * downloaded: how many bytes per second one thread of this tab streams through a buffer too big for
 * the caches while doing a little integer work on each — the two things a llama.cpp decode step is made
 * of (reading every weight once; a few operations on each). It runs in slices of a few milliseconds
 * so the page stays responsive, about 60 ms in all.
 *
 * cpuSecondsPerToken() turns the figure into an expected decode speed with two constants fitted on
 * this project's machine (the README's table: llama.cpp's measured decode speed against the probe's
 * figure in the same browser, on models from 3 MB to 64 MB of weights): a fixed cost per token and a
 * cost per weight byte, both in units of the probe, so a device twice as fast at the probe is expected
 * twice as fast at decoding.
 */

/** 16 MiB: larger than the caches of consumer CPUs, small enough for any phone. */
const PROBE_WORDS = 4 * 1024 * 1024;
const SLICE_MS = 8;
const SLICES = 8;

let buffer: Int32Array | undefined;

/** One pass of integer work over the buffer; returns a checksum so the JIT cannot drop the loop. */
function pass(words: Int32Array): number {
  let a = 0;
  let b = 0;
  for (let i = 0; i < words.length; i += 4) {
    a = (a + words[i]! * 3) | 0;
    b = (b ^ (words[i + 1]! + words[i + 2]! - words[i + 3]!)) | 0;
  }
  return a ^ b;
}

/** Bytes per second streamed by one thread (the median slice, after a warm-up pass). */
export async function probeCpuBytesPerSecond(): Promise<number> {
  buffer ??= Int32Array.from({ length: PROBE_WORDS }, (_, i) => (i * 2654435761) | 0);
  let sink = pass(buffer.subarray(0, PROBE_WORDS / 8)); // warm-up: let the JIT compile the loop
  const rates: number[] = [];
  for (let s = 0; s < SLICES; s++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const t0 = performance.now();
    let bytes = 0;
    while (performance.now() - t0 < SLICE_MS) {
      sink ^= pass(buffer.subarray(0, PROBE_WORDS / 4));
      bytes += PROBE_WORDS;
    }
    rates.push((bytes / (performance.now() - t0)) * 1000);
  }
  if (sink === 0x7fffffff) rates.push(0); // never true in practice; keeps `sink` alive
  rates.sort((x, y) => x - y);
  return rates[Math.floor(rates.length / 2)]!;
}

/**
 * Fitted on this project's machine (see the README's CPU table): seconds per decoded token ≈
 * (FIXED + PER_BYTE · weight bytes read per token) / probe bytes per second, divided among threads
 * for the per-byte part (the fixed part — a round trip through wllama's worker, sampling — does not
 * shrink with threads).
 */
const FIXED_PROBE_BYTES = 1e6;
const PROBE_BYTES_PER_WEIGHT_BYTE = 3.7;

export function cpuSecondsPerToken(weightBytesPerToken: number, probeBytesPerSecond: number, threads = 1): number {
  if (!(probeBytesPerSecond > 0)) return Infinity;
  return (FIXED_PROBE_BYTES + (PROBE_BYTES_PER_WEIGHT_BYTE * weightBytesPerToken) / Math.max(1, threads)) / probeBytesPerSecond;
}
