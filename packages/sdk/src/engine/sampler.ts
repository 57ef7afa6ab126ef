/**
 * Turning logits into the next token, with Hugging Face's semantics for `repetition_penalty`,
 * `temperature`, `top_k`, `top_p` (in that order, as `generate()` applies them) and OpenAI's for
 * `presence_penalty`, `frequency_penalty` and `logit_bias`. A seed makes sampling reproducible.
 */
import { InvalidRequestError } from '../errors.js';
import { mulberry32 } from '../model/random.js';
import { MASKED_LOGIT } from '../reference/kernels.js';

export interface SamplingParams {
  /** 0 = greedy. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  top_k?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches top_p (1 = off). */
  top_p?: number;
  /** Hugging Face: divide positive / multiply negative logits of every token in prompt + output (1 = off). */
  repetition_penalty?: number;
  /** OpenAI: subtract this from the logit of every token already generated (0 = off). */
  presence_penalty?: number;
  /** OpenAI: subtract this × (times generated) from each token's logit (0 = off). */
  frequency_penalty?: number;
  /** OpenAI: token id → bias added to its logit (-100…100). */
  logit_bias?: Record<string, number>;
  seed?: number;
}

/** One token's adjustment, as the GPU logit-processor kernel receives it. */
export interface TokenAdjustment {
  id: number;
  /** Whether the token is in the context (prompt + output), for repetition_penalty. */
  inContext: boolean;
  /** Times the token was generated, for presence/frequency penalties. */
  generatedCount: number;
  bias: number;
}

/** Throws an InvalidRequestError naming the first bad parameter. */
export function checkSamplingParams(p: SamplingParams, vocabSize: number): void {
  const fail = (param: string, message: string): never => {
    throw new InvalidRequestError(param, `${param}: ${message}`);
  };
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const range = (param: keyof SamplingParams, lo: number, hi: number) => {
    const v = p[param];
    if (v !== undefined && !(isNumber(v) && v >= lo && v <= hi)) fail(param, `must be a number between ${lo} and ${hi}, got ${String(v)}`);
  };
  range('temperature', 0, 2);
  range('top_p', 0, 1);
  range('presence_penalty', -2, 2);
  range('frequency_penalty', -2, 2);
  range('repetition_penalty', 1e-6, 100);
  if (p.top_k !== undefined && !(Number.isSafeInteger(p.top_k) && p.top_k >= 0)) fail('top_k', `must be a non-negative integer, got ${String(p.top_k)}`);
  if (p.seed !== undefined && !Number.isSafeInteger(p.seed)) fail('seed', `must be an integer, got ${String(p.seed)}`);
  if (p.logit_bias !== undefined) {
    if (typeof p.logit_bias !== 'object' || p.logit_bias === null || Array.isArray(p.logit_bias)) fail('logit_bias', 'must be an object of token id → bias');
    for (const [id, bias] of Object.entries(p.logit_bias!)) {
      // Token ids as OpenAI writes them: plain decimal integers ("0x10", "1e1", "" and " 5" are not).
      if (!/^(0|[1-9][0-9]*)$/.test(id) || Number(id) >= vocabSize) fail('logit_bias', `token id ${JSON.stringify(id)} is outside the vocabulary of ${vocabSize} (0…${vocabSize - 1})`);
      if (!(isNumber(bias) && bias >= -100 && bias <= 100)) fail('logit_bias', `bias of token ${id} must be between -100 and 100, got ${String(bias)}`);
    }
  }
}

/** The per-token adjustments for the current context (only tokens that have any). */
export function adjustments(p: SamplingParams, context: readonly number[], generated: readonly number[]): TokenAdjustment[] {
  const byId = new Map<number, TokenAdjustment>();
  const entry = (id: number) => {
    let a = byId.get(id);
    if (!a) byId.set(id, (a = { id, inContext: false, generatedCount: 0, bias: 0 }));
    return a;
  };
  if ((p.repetition_penalty ?? 1) !== 1) for (const id of context) entry(id).inContext = true;
  if ((p.presence_penalty ?? 0) !== 0 || (p.frequency_penalty ?? 0) !== 0) for (const id of generated) entry(id).generatedCount++;
  for (const [id, bias] of Object.entries(p.logit_bias ?? {})) entry(Number(id)).bias += bias;
  return [...byId.values()];
}

/** logit_processor.wgsl's CPU twin: applies penalties and biases in place. */
export function applyAdjustments(logits: Float32Array, list: readonly TokenAdjustment[], p: SamplingParams): void {
  const rep = p.repetition_penalty ?? 1;
  const presence = p.presence_penalty ?? 0;
  const frequency = p.frequency_penalty ?? 0;
  for (const a of list) {
    let l = logits[a.id]!;
    if (a.inContext && rep !== 1) l = l < 0 ? l * rep : l / rep;
    l -= a.generatedCount * frequency + (a.generatedCount > 0 ? presence : 0);
    logits[a.id] = l + a.bias;
  }
}

/** The probabilities sampling draws from, after temperature, top-k and top-p (zero elsewhere). */
export function samplingDistribution(logits: Float32Array, p: SamplingParams): Float64Array {
  const temperature = p.temperature ?? 1;
  // Tokens a grammar masked out (token_mask.wgsl gives them the lowest float) never take part: with
  // a grammar, most of the vocabulary is masked, and sorting only the rest keeps a step cheap.
  const candidates: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i]! > MASKED_LOGIT) candidates.push(i);
  const order = (candidates.length > 0 ? candidates : Array.from({ length: logits.length }, (_, i) => i)).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const n = order.length;
  let keep = n;
  const topK = p.top_k ?? 0;
  if (topK > 0 && topK < n) {
    // Hugging Face keeps every token whose logit ties the k-th.
    const kth = logits[order[topK - 1]!]!;
    keep = topK;
    while (keep < n && logits[order[keep]!]! === kth) keep++;
  }
  const max = logits[order[0]!]!;
  const weights = new Float64Array(logits.length);
  let sum = 0;
  for (let r = 0; r < keep; r++) {
    const i = order[r]!;
    weights[i] = Math.exp((logits[i]! - max) / temperature);
    sum += weights[i]!;
  }
  const topP = p.top_p ?? 1;
  if (topP < 1) {
    let cumulative = 0;
    let r = 0;
    for (; r < keep; r++) {
      cumulative += weights[order[r]!]! / sum;
      if (cumulative >= topP) {
        r++;
        break;
      }
    }
    for (let s = Math.max(1, r); s < keep; s++) weights[order[s]!] = 0;
    sum = 0;
    for (let s = 0; s < keep; s++) sum += weights[order[s]!]!;
  }
  for (let r = 0; r < n; r++) weights[order[r]!]! /= sum;
  return weights;
}

/** Draws token ids from distributions with a seeded generator (Math.random when no seed). */
export class Sampler {
  private readonly random: () => number;

  constructor(seed?: number) {
    this.random = seed === undefined ? Math.random : mulberry32(seed);
  }

  sample(distribution: Float64Array): number {
    const u = this.random();
    let cumulative = 0;
    let last = 0;
    for (let i = 0; i < distribution.length; i++) {
      if (distribution[i]! <= 0) continue;
      cumulative += distribution[i]!;
      last = i;
      if (u < cumulative) return i;
    }
    return last; // rounding left the total a hair under 1
  }
}
