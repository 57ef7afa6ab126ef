/**
 * What sampling with our own sampler (engine/sampler.ts) costs per token on Baichuan-7B's 64,000-token
 * vocabulary, in JavaScript: the figure behind the CPU path's choice to let llama.cpp sample (see the
 * README, "The CPU path"). Prints one JSON line.
 *
 *   npx tsx packages/sdk/bench/sampler-cost.ts [--vocab 64000] [--runs 50]
 */
import { parseArgs } from 'node:util';
import { argmax } from '../src/model/arrays.js';
import { mulberry32 } from '../src/model/random.js';
import { adjustments, applyAdjustments, Sampler, samplingDistribution } from '../src/engine/sampler.js';

const { values: o } = parseArgs({ options: { vocab: { type: 'string', default: '64000' }, runs: { type: 'string', default: '50' } } });
const vocab = Number(o.vocab);
const runs = Number(o.runs);
const next = mulberry32(1);
const logits = Float32Array.from({ length: vocab }, () => (next() - 0.5) * 20);
const context = Array.from({ length: 512 }, () => Math.floor(next() * vocab));
const params = { temperature: 0.8, top_k: 40, top_p: 0.95, repetition_penalty: 1.1, seed: 1 };
const sampler = new Sampler(1);

function time(what: () => void): number {
  for (let i = 0; i < 3; i++) what();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) what();
  return (performance.now() - t0) / runs;
}

const result = {
  vocab,
  argmax_ms: time(() => argmax(logits)),
  penalties_ms: time(() => applyAdjustments(logits.slice(), adjustments(params, context, context.slice(-32)), params)),
  sample_ms: time(() => sampler.sample(samplingDistribution(logits, params))),
  logits_copy_ms: time(() => logits.slice()),
};
console.log(JSON.stringify(result));
