/** Each sampling rule against distributions computed by hand. */
import { describe, expect, it } from 'vitest';
import { adjustments, applyAdjustments, checkSamplingParams, Sampler, samplingDistribution } from '../src/engine/sampler.js';

const softmax = (xs: number[]) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

function close(actual: ArrayLike<number>, expected: number[]) {
  expect(actual.length).toBe(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 12));
}

describe('sampling rules', () => {
  const logits = () => Float32Array.from([2, 1, 0, -1]);

  it('temperature divides the logits', () => {
    close(samplingDistribution(logits(), { temperature: 0.5 }), softmax([4, 2, 0, -2]));
    close(samplingDistribution(logits(), { temperature: 1 }), softmax([2, 1, 0, -1]));
  });

  it('top_k keeps the k largest (and ties with the k-th)', () => {
    close(samplingDistribution(logits(), { top_k: 2 }), [...softmax([2, 1]), 0, 0]);
    close(samplingDistribution(Float32Array.from([3, 1, 1, 0]), { top_k: 2 }), [...softmax([3, 1, 1]), 0]);
  });

  it('top_p keeps the smallest head whose probability reaches p', () => {
    const p = softmax([2, 1, 0, -1]); // ≈ 0.644, 0.237, 0.087, 0.032
    close(samplingDistribution(logits(), { top_p: 0.5 }), [1, 0, 0, 0]);
    const head = p[0]! + p[1]!;
    close(samplingDistribution(logits(), { top_p: 0.85 }), [p[0]! / head, p[1]! / head, 0, 0]);
    const three = head + p[2]!;
    close(samplingDistribution(logits(), { top_p: 0.9 }), [p[0]! / three, p[1]! / three, p[2]! / three, 0]);
  });

  it("repetition_penalty divides positive and multiplies negative logits of context tokens (Hugging Face's rule)", () => {
    const l = logits();
    const p = { repetition_penalty: 2 };
    applyAdjustments(l, adjustments(p, [0, 3, 3], []), p);
    close(l, [1, 1, 0, -2]);
  });

  it('presence and frequency penalties count generated tokens only (OpenAI)', () => {
    const l = logits();
    const p = { presence_penalty: 0.5, frequency_penalty: 0.25 };
    applyAdjustments(l, adjustments(p, [0, 1, 2], [1, 1, 2]), p);
    close(l, [2, 1 - 0.5 - 0.5, 0 - 0.5 - 0.25, -1]);
  });

  it('logit_bias adds to the named tokens', () => {
    const l = logits();
    const p = { logit_bias: { '3': 10, '0': -100 } };
    applyAdjustments(l, adjustments(p, [], []), p);
    close(l, [-98, 1, 0, 9]);
  });

  it('a seed makes draws reproducible, and draws follow the distribution', () => {
    const dist = samplingDistribution(logits(), {});
    const a = new Sampler(42);
    const b = new Sampler(42);
    const draws = Array.from({ length: 20000 }, () => a.sample(dist));
    expect(Array.from({ length: 20000 }, () => b.sample(dist))).toEqual(draws);
    const freq = [0, 1, 2, 3].map((i) => draws.filter((d) => d === i).length / draws.length);
    freq.forEach((f, i) => expect(Math.abs(f - dist[i]!)).toBeLessThan(0.015));
  });

  it('rejects out-of-range parameters', () => {
    expect(() => checkSamplingParams({ temperature: -1 }, 10)).toThrow(/temperature/);
    expect(() => checkSamplingParams({ top_p: 1.5 }, 10)).toThrow(/top_p/);
    expect(() => checkSamplingParams({ logit_bias: { '12': 1 } }, 10)).toThrow(/outside the vocabulary/);
    expect(() => checkSamplingParams({ top_k: 2.5 }, 10)).toThrow(/top_k/);
  });
});
