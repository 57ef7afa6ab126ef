/** A checked request as llama-server's body on the CPU path: our sampling meanings, llama.cpp's names. */
import { describe, expect, it } from 'vitest';
import { toolGrammar, toolOffer } from '../src/client/tools.js';
import { InvalidRequestError } from '../src/errors.js';
import { checkCpuRequest, llamaCompletionBody } from '../src/cpu/request.js';
import { checkRequest } from '../src/worker/request.js';

describe('llamaCompletionBody', () => {
  it("switches off llama.cpp's own top-k 40 and min-p 0.05, and orders the chain as Hugging Face does", () => {
    const body = llamaCompletionBody(checkRequest({ requestId: 'a', prompt: 'x' }, 100), 'x', 16, 512);
    expect(body).toMatchObject({ prompt: 'x', max_tokens: 16, temperature: 1, top_k: 0, top_p: 1, min_p: 0, typical_p: 1, repeat_penalty: 1, presence_penalty: 0, frequency_penalty: 0, logit_bias: [], cache_prompt: true, timings_per_token: true });
    expect(body.samplers).toEqual(['penalties', 'temperature', 'top_k', 'top_p']);
    expect(body.seed).toBeUndefined();
    expect(body.ignore_eos).toBeUndefined();
  });

  it('passes the caller\'s values, the repetition penalty over the whole window, logit_bias as id/bias pairs, the seed as llama.cpp\'s uint32 (never its "random" 0xFFFFFFFF)', () => {
    const request = checkRequest({ requestId: 'b', prompt: 'y', max_tokens: 3, temperature: 0.7, top_k: 5, top_p: 0.9, repetition_penalty: 1.3, presence_penalty: 0.5, frequency_penalty: -0.5, logit_bias: { '7': 100, '12': -3.5 }, seed: -1 }, 100);
    const body = llamaCompletionBody(request, 'y', 3, 2048);
    expect(body).toMatchObject({ max_tokens: 3, temperature: 0.7, top_k: 5, top_p: 0.9, repeat_penalty: 1.3, repeat_last_n: 2048, presence_penalty: 0.5, frequency_penalty: -0.5, seed: 0xfffffffe });
    expect(body.logit_bias).toEqual([[7, 100], [12, -3.5]]);
  });

  it('passes ignore_eos on to llama.cpp', () => {
    expect(llamaCompletionBody(checkRequest({ requestId: 'c', prompt: 'z', ignore_eos: true }, 100), 'z', 8, 512).ignore_eos).toBe(true);
  });
});

describe('checkCpuRequest', () => {
  const refusal = (raw: Parameters<typeof checkCpuRequest>[0]) => {
    try {
      checkCpuRequest(raw, 100);
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('refuses structured output, naming response_format, for each of its forms (llama.cpp\'s grammars are not XGrammar\'s)', () => {
    for (const response_format of [
      { type: 'json_object' as const },
      { type: 'json_object' as const, schema: '{"type":"object"}' },
      { type: 'json_schema' as const, json_schema: { name: 'x', schema: { type: 'object' } } },
      { type: 'grammar' as const, grammar: 'root ::= "a"' },
    ]) {
      const error = refusal({ requestId: 'r', prompt: 'p', response_format });
      expect(error, JSON.stringify(response_format)).toBeInstanceOf(InvalidRequestError);
      expect((error as InvalidRequestError).param).toBe('response_format');
      expect((error as Error).message).toMatch(/'cpu' backend/);
    }
  });

  it('refuses a tool offer (its reply is held to a schema), naming tools', () => {
    const offer = toolOffer([{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }], 'auto')!;
    const error = refusal({ requestId: 't', prompt: 'p', grammar: toolGrammar(offer, true) });
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe('tools');
  });

  it('refuses extra_body.enable_thinking (only WebLLM\'s own templates know it), as webchuan\'s engine does', () => {
    expect((refusal({ requestId: 'e', prompt: 'p', extra_body: { enable_thinking: true } }) as InvalidRequestError).param).toBe('extra_body.enable_thinking');
  });

  it('refuses logprobs and takes the fields it honours (n, echo, ignore_eos, a text response_format)', () => {
    expect((refusal({ requestId: 'l', prompt: 'p', logprobs: true }) as InvalidRequestError).param).toBe('logprobs');
    const request = checkCpuRequest({ requestId: 'k', prompt: 'p', n: 3, echo: true, ignore_eos: true, response_format: { type: 'text' } }, 100);
    expect(request).toMatchObject({ n: 3, echo: true, ignore_eos: true });
    expect(request.grammar).toBeUndefined();
  });
});
