/**
 * Request checks before any work: each bad value is an InvalidRequestError with code
 * 'invalid-request' that names the parameter at fault (worker/request.ts, engine/sampler.ts).
 */
import { describe, expect, it } from 'vitest';
import type { WorkerCompletionRequest } from '../src/client/protocol.js';
import { checkSamplingParams } from '../src/engine/sampler.js';
import { InvalidRequestError } from '../src/errors.js';
import { checkRequest, MAX_STOP_STRINGS } from '../src/worker/request.js';

const VOCAB = 100;
const request = (fields: Record<string, unknown>): WorkerCompletionRequest => ({ requestId: 'r1', prompt: 'Hello', ...fields }) as WorkerCompletionRequest;

/** The error `run` throws, which must be an InvalidRequestError naming `param`. */
function rejects(run: () => unknown, param: string): InvalidRequestError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidRequestError);
  const e = caught as InvalidRequestError;
  expect(e.code).toBe('invalid-request');
  expect(e.param).toBe(param);
  expect(e.message.startsWith(`${param}: `)).toBe(true);
  return e;
}

describe('checkRequest', () => {
  it('accepts a plain request and fills in the defaults', () => {
    expect(checkRequest(request({ stop: ['\n'], logit_bias: { '0': 1, '99': -100 }, seed: 7 }), VOCAB)).toMatchObject({ max_tokens: 16, temperature: 1, stops: ['\n'] });
  });

  it('seed NaN', () => {
    rejects(() => checkRequest(request({ seed: Number.NaN }), VOCAB), 'seed');
  });

  for (const key of ['', '0x10', '1e1', ' 5', '05', '-1', '100']) {
    it(`logit_bias key ${JSON.stringify(key)}`, () => {
      const e = rejects(() => checkRequest(request({ logit_bias: { [key]: 1 } }), VOCAB), 'logit_bias');
      expect(e.message).toContain(JSON.stringify(key));
    });
  }

  it('truncation: "bogus"', () => {
    rejects(() => checkRequest(request({ truncation: 'bogus' }), VOCAB), 'truncation');
  });

  it(`more than ${MAX_STOP_STRINGS} stop strings, and an empty one`, () => {
    rejects(() => checkRequest(request({ stop: ['a', 'b', 'c', 'd', 'e'] }), VOCAB), 'stop');
    rejects(() => checkRequest(request({ stop: [''] }), VOCAB), 'stop');
    expect(checkRequest(request({ stop: ['a', 'b', 'c', 'd'] }), VOCAB).stops).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a prompt that is not a string, max_tokens that is not a count', () => {
    rejects(() => checkRequest(request({ prompt: 42 }), VOCAB), 'prompt');
    rejects(() => checkRequest(request({ max_tokens: 1.5 }), VOCAB), 'max_tokens');
    rejects(() => checkRequest(request({ max_tokens: -1 }), VOCAB), 'max_tokens');
  });
});

describe('checkSamplingParams', () => {
  it('ranges and types of each sampling parameter', () => {
    rejects(() => checkSamplingParams({ temperature: Number.NaN }, VOCAB), 'temperature');
    rejects(() => checkSamplingParams({ temperature: 2.5 }, VOCAB), 'temperature');
    rejects(() => checkSamplingParams({ top_p: 1.5 }, VOCAB), 'top_p');
    rejects(() => checkSamplingParams({ top_k: -1 }, VOCAB), 'top_k');
    rejects(() => checkSamplingParams({ repetition_penalty: 0 }, VOCAB), 'repetition_penalty');
    rejects(() => checkSamplingParams({ seed: 1.5 }, VOCAB), 'seed');
    rejects(() => checkSamplingParams({ logit_bias: { '3': 101 } }, VOCAB), 'logit_bias');
    rejects(() => checkSamplingParams({ logit_bias: [] as unknown as Record<string, number> }, VOCAB), 'logit_bias');
    expect(() => checkSamplingParams({ temperature: 0, top_p: 1, top_k: 0, seed: 0, logit_bias: { '42': -100 } }, VOCAB)).not.toThrow();
  });
});
