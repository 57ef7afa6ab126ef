/**
 * Deterministic random models of any Baichuan/LLaMA shape, for tests and the demo's default model.
 * Weights are scaled by 1/√fan_in so activations stay O(1) and logits are far from all-equal, which
 * makes GPU/CPU comparisons and greedy decoding meaningful.
 */
import type { ModelConfig } from './config.js';
import { paramSpecs } from './params.js';

/** Mulberry32: a small, fast, well-mixed 32-bit PRNG, so a seed gives the same model everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every parameter of `config`, filled from `seed`, in forward-pass order. */
export function* randomParams(config: ModelConfig, seed: number): Generator<{ name: string; values: Float32Array }> {
  const next = mulberry32(seed);
  for (const spec of paramSpecs(config)) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(count);
    if (spec.shape.length === 1) {
      for (let i = 0; i < count; i++) values[i] = 1 + (next() - 0.5) * 0.2;
    } else {
      const bound = Math.sqrt(3 / spec.shape[1]!); // uniform with variance 1/fan_in
      for (let i = 0; i < count; i++) values[i] = (next() * 2 - 1) * bound;
    }
    yield { name: spec.name, values };
  }
}
