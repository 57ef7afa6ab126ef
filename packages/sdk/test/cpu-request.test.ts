/** A checked request as llama-server's body on the CPU path: our sampling meanings, llama.cpp's names. */
import { describe, expect, it } from 'vitest';
import { llamaCompletionBody } from '../src/cpu/request.js';
import { checkRequest } from '../src/worker/request.js';

describe('llamaCompletionBody', () => {
  it("switches off llama.cpp's own top-k 40 and min-p 0.05, and orders the chain as Hugging Face does", () => {
    const body = llamaCompletionBody(checkRequest({ requestId: 'a', prompt: 'x' }, 100), 'x', 512);
    expect(body).toMatchObject({ prompt: 'x', max_tokens: 16, temperature: 1, top_k: 0, top_p: 1, min_p: 0, typical_p: 1, repeat_penalty: 1, presence_penalty: 0, frequency_penalty: 0, logit_bias: [], cache_prompt: true, timings_per_token: true });
    expect(body.samplers).toEqual(['penalties', 'temperature', 'top_k', 'top_p']);
    expect(body.seed).toBeUndefined();
  });

  it('passes the caller\'s values, the repetition penalty over the whole window, logit_bias as id/bias pairs, the seed as llama.cpp\'s uint32 (never its "random" 0xFFFFFFFF)', () => {
    const request = checkRequest({ requestId: 'b', prompt: 'y', max_tokens: 3, temperature: 0.7, top_k: 5, top_p: 0.9, repetition_penalty: 1.3, presence_penalty: 0.5, frequency_penalty: -0.5, logit_bias: { '7': 100, '12': -3.5 }, seed: -1 }, 100);
    const body = llamaCompletionBody(request, 'y', 2048);
    expect(body).toMatchObject({ max_tokens: 3, temperature: 0.7, top_k: 5, top_p: 0.9, repeat_penalty: 1.3, repeat_last_n: 2048, presence_penalty: 0.5, frequency_penalty: -0.5, seed: 0xfffffffe });
    expect(body.logit_bias).toEqual([[7, 100], [12, -3.5]]);
  });
});
