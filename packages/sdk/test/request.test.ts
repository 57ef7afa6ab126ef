/**
 * Request checks before any work: each bad value is an InvalidRequestError with code
 * 'invalid-request' that names the parameter at fault (worker/request.ts, engine/sampler.ts).
 */
import { describe, expect, it } from 'vitest';
import type { WorkerCompletionRequest } from '../src/client/protocol.js';
import { checkSamplingParams } from '../src/engine/sampler.js';
import { InvalidRequestError } from '../src/errors.js';
import { checkRequest, MAX_STOP_STRINGS, replyRoom } from '../src/worker/request.js';
import { checkStreamFields } from '../src/client/request-fields.js';
import { templateMessages } from '../src/client/messages.js';
import { parseToolCalls, toolCallSchema, toolOffer } from '../src/client/tools.js';
import { defaultChatTemplate } from '../src/client/chat-template.js';
import { createEngine, Engine, type CreateEngineOptions } from '../src/client/engine.js';
import type { WorkerConnection } from '../src/client/worker-start.js';

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
    const checked = checkRequest(request({ stop: ['\n'], logit_bias: { '0': 1, '99': -100 }, seed: 7 }), VOCAB);
    expect(checked).toMatchObject({ temperature: 1, stops: ['\n'], n: 1, logprobs: false, top_logprobs: 0, echo: false, ignore_eos: false });
    // WebLLM's default: no limit but the context window (and a prompt must leave room for one token).
    expect(checked.max_tokens).toBeUndefined();
    expect(replyRoom(checked, 512)).toBe(1);
    expect(replyRoom({ max_tokens: undefined, truncation: 'left' }, 512)).toBe(128);
  });

  it('best_of is refused, naming it (it was quietly ignored)', () => {
    const e = rejects(() => checkRequest(request({ best_of: 3 }), VOCAB), 'best_of');
    expect(e.message).toContain('use n');
  });

  it('every field of OpenAI\'s and WebLLM\'s requests that webchuan lacks is refused, and so is an unknown one', () => {
    for (const field of ['suffix', 'user', 'functions', 'function_call', 'audio', 'modalities', 'prediction', 'store', 'metadata', 'service_tier', 'reasoning_effort']) {
      rejects(() => checkRequest(request({ [field]: 'x' }), VOCAB), field);
    }
    rejects(() => checkRequest(request({ max_token: 5 }), VOCAB), 'max_token');
    rejects(() => checkRequest(request({ extra_body: { enable_latency_breakdown: true } }), VOCAB), 'extra_body.enable_latency_breakdown');
    rejects(() => checkRequest(request({ extra_body: { speculative: true } }), VOCAB), 'extra_body.speculative');
  });

  it('null means unset, as in WebLLM\'s and OpenAI\'s types', () => {
    const checked = checkRequest(request({ max_tokens: null, temperature: null, n: null, stop: null, logit_bias: null, seed: null, response_format: null }), VOCAB);
    expect(checked).toMatchObject({ temperature: 1, n: 1, stops: [] });
    expect(checked.max_tokens).toBeUndefined();
  });

  it('n, logprobs and top_logprobs (OpenAI\'s ranges; the legacy logprobs: N), echo, ignore_eos, max_completion_tokens', () => {
    expect(checkRequest(request({ n: 3 }), VOCAB).n).toBe(3);
    rejects(() => checkRequest(request({ n: 0 }), VOCAB), 'n');
    rejects(() => checkRequest(request({ n: 1.5 }), VOCAB), 'n');
    rejects(() => checkRequest(request({ n: 129 }), VOCAB), 'n');
    expect(checkRequest(request({ logprobs: true, top_logprobs: 20 }), VOCAB)).toMatchObject({ logprobs: true, top_logprobs: 20 });
    expect(checkRequest(request({ logprobs: 3 }), VOCAB)).toMatchObject({ logprobs: true, top_logprobs: 3 });
    rejects(() => checkRequest(request({ top_logprobs: 2 }), VOCAB), 'top_logprobs');
    rejects(() => checkRequest(request({ logprobs: true, top_logprobs: 21 }), VOCAB), 'top_logprobs');
    rejects(() => checkRequest(request({ logprobs: 'yes' }), VOCAB), 'logprobs');
    rejects(() => checkRequest(request({ echo: 'yes' }), VOCAB), 'echo');
    // As WebLLM: with echo, logprobs cover the generated tokens (text_offset counts from the echoed prompt's start).
    expect(checkRequest(request({ echo: true, logprobs: true }), VOCAB)).toMatchObject({ echo: true, logprobs: true });
    rejects(() => checkRequest(request({ ignore_eos: 1 }), VOCAB), 'ignore_eos');
    expect(checkRequest(request({ max_completion_tokens: 7 }), VOCAB).max_tokens).toBe(7);
    rejects(() => checkRequest(request({ max_completion_tokens: 7, max_tokens: 8 }), VOCAB), 'max_completion_tokens');
  });

  it('response_format in WebLLM\'s and OpenAI\'s forms becomes one grammar; a malformed one is refused by field', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    expect(checkRequest(request({ response_format: { type: 'json_object' } }), VOCAB).grammar).toEqual({ kind: 'json', strict: true });
    expect(checkRequest(request({ response_format: { type: 'json_object', schema: JSON.stringify(schema) } }), VOCAB).grammar).toEqual({ kind: 'json', schema: JSON.stringify(schema), strict: true });
    expect(checkRequest(request({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema, strict: false } } }), VOCAB).grammar).toEqual({ kind: 'json', schema: JSON.stringify(schema), strict: false });
    expect(checkRequest(request({ response_format: { type: 'grammar', grammar: 'root ::= "x"' } }), VOCAB).grammar).toEqual({ kind: 'ebnf', grammar: 'root ::= "x"' });
    expect(checkRequest(request({ response_format: { type: 'text' } }), VOCAB).grammar).toBeUndefined();
    rejects(() => checkRequest(request({ response_format: { type: 'xml' } }), VOCAB), 'response_format.type');
    rejects(() => checkRequest(request({ response_format: { type: 'json_object', schema: '{not json' } }), VOCAB), 'response_format.schema');
    rejects(() => checkRequest(request({ response_format: { type: 'json_object', grammar: 'root ::= "x"' } }), VOCAB), 'response_format.grammar');
    rejects(() => checkRequest(request({ response_format: { type: 'json_schema', json_schema: { schema } } }), VOCAB), 'response_format.json_schema.name');
    rejects(() => checkRequest(request({ response_format: { type: 'grammar' } }), VOCAB), 'response_format.grammar');
    rejects(() => checkRequest(request({ response_format: { type: 'json_object' }, ignore_eos: true }), VOCAB), 'ignore_eos');
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

describe('the page\'s stream fields', () => {
  it('stream: "yes" is refused, naming it (it quietly streamed)', () => {
    rejects(() => checkStreamFields({ stream: 'yes' }, 'completion'), 'stream');
    rejects(() => checkStreamFields({ stream: 1 }, 'completion'), 'stream');
    expect(checkStreamFields({ stream: true }, 'completion')).toEqual({ stream: true, includeUsage: undefined });
    expect(checkStreamFields({ stream: null }, 'completion')).toEqual({ stream: false, includeUsage: undefined });
  });

  it('create({ stream: "yes" }) throws at once, before anything reaches the worker (it used to stream)', () => {
    // A connection whose every use fails the test: the refusal must come before the worker is asked.
    const unreachable = new Proxy({}, { get: () => { throw new Error('the worker was asked'); } });
    const engine = new Engine({ service: unreachable, kind: 'dedicated', close: () => undefined } as unknown as WorkerConnection, undefined);
    rejects(() => engine.completions.create({ prompt: 'x', stream: 'yes' } as never), 'stream');
    rejects(() => engine.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], stream: 'yes' } as never), 'stream');
  });

  it('chat fields the page handles are refused before the worker is asked: tools with a template that cannot offer them, parallel_tool_calls without tools', () => {
    const unreachable = new Proxy({}, { get: () => { throw new Error('the worker was asked'); } });
    const engine = new Engine({ service: unreachable, kind: 'dedicated', close: () => undefined } as unknown as WorkerConnection, undefined);
    engine.model = { chatTemplate: 'page' } as typeof engine.model;
    const messages = [{ role: 'user' as const, content: 'x' }];
    const tools = [{ type: 'function' as const, function: { name: 'f' } }];
    const plain = Object.assign((m: { content: string }[]) => ({ prompt: m.map((x) => x.content).join('\n'), stop: [] }), {});
    rejects(() => engine.chat.completions.create({ messages, tools, template: plain }), 'tools');
    rejects(() => engine.chat.completions.create({ messages, parallel_tool_calls: false } as never), 'parallel_tool_calls');
    rejects(() => engine.chat.completions.create({ messages, tools, response_format: { type: 'json_object' } }), 'response_format');
  });

  it("the SDK's own worker fields are refused from a caller, naming each (a grammar slipped past response_format, template_stop past the 4-stop limit), and template on a completion", () => {
    const unreachable = new Proxy({}, { get: () => { throw new Error('the worker was asked'); } });
    const engine = new Engine({ service: unreachable, kind: 'dedicated', close: () => undefined } as unknown as WorkerConnection, undefined);
    const messages = [{ role: 'user' as const, content: 'x' }];
    rejects(() => engine.completions.create({ prompt: 'x', grammar: { kind: 'ebnf', grammar: 'root ::= "x"' } } as never), 'grammar');
    rejects(() => engine.completions.create({ prompt: 'x', template_stop: ['a', 'b', 'c', 'd', 'e'] } as never), 'template_stop');
    rejects(() => engine.completions.create({ prompt: 'x', requestId: 'mine' } as never), 'requestId');
    rejects(() => engine.chat.completions.create({ messages, grammar: { kind: 'ebnf', grammar: 'root ::= "x"' } } as never), 'grammar');
    rejects(() => engine.completions.create({ prompt: 'x', template: () => ({ prompt: 'x', stop: [] }) } as never), 'template');
  });

  it('stream_options only with stream: true, include_usage a boolean', () => {
    rejects(() => checkStreamFields({ stream_options: { include_usage: true } }, 'completion'), 'stream_options');
    rejects(() => checkStreamFields({ stream: true, stream_options: { include_usage: 'yes' } }, 'completion'), 'stream_options.include_usage');
    rejects(() => checkStreamFields({ stream: true, stream_options: { continuous_usage_stats: true } }, 'completion'), 'stream_options.continuous_usage_stats');
    expect(checkStreamFields({ stream: true, stream_options: { include_usage: true } }, 'completion').includeUsage).toBe(true);
  });
});

describe('chat messages', () => {
  it('text parts are joined with a newline; any other part is refused by its index', () => {
    expect(templateMessages([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }])).toEqual([{ role: 'user', content: 'a\nb' }]);
    rejects(() => templateMessages([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,' } }] }]), 'messages[0].content[1]');
  });

  it('the tool role and an assistant\'s tool calls; unknown roles and fields refused', () => {
    const calls = [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }];
    const list = templateMessages([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: null, tool_calls: calls },
      { role: 'tool', content: '42', tool_call_id: 'c1' },
    ]);
    expect(list[1]).toEqual({ role: 'assistant', content: '', tool_calls: calls });
    expect(list[2]).toEqual({ role: 'tool', content: '42', tool_call_id: 'c1' });
    const { prompt } = defaultChatTemplate(list);
    expect(prompt).toBe('User: q\nAssistant: {"tool_calls":[{"name":"f","arguments":{"x":1}}]}\nTool: 42\nAssistant:');
    rejects(() => templateMessages([{ role: 'tool', content: '42' }]), 'messages[0].tool_call_id');
    rejects(() => templateMessages([{ role: 'function', content: 'x' }]), 'messages[0].role');
    rejects(() => templateMessages([{ role: 'user', content: 'x', name: 'bob' }]), 'messages[0].name');
    rejects(() => templateMessages([]), 'messages');
  });
});

describe('tools', () => {
  const tools = [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
    { type: 'function', function: { name: 'get_time' } },
  ];

  it('tool_choice: none, auto, required or a named tool; bad tools refused by field', () => {
    expect(toolOffer(tools, 'none')).toBeUndefined();
    expect(toolOffer(tools, undefined)?.choice).toBe('auto');
    expect(toolOffer(tools, { type: 'function', function: { name: 'get_time' } })?.choice).toEqual({ name: 'get_time' });
    rejects(() => toolOffer(tools, { type: 'function', function: { name: 'nope' } }), 'tool_choice');
    rejects(() => toolOffer(undefined, 'required'), 'tool_choice');
    rejects(() => toolOffer([{ type: 'function', function: { name: 'bad name' } }], 'auto'), 'tools[0].function.name');
    rejects(() => toolOffer([tools[0], tools[0]], 'auto'), 'tools[1].function.name');
  });

  it('a call\'s schema names each tool and holds its arguments; a reply parses into OpenAI\'s tool_calls', () => {
    const schema = toolCallSchema(toolOffer(tools, 'required')!, false) as { properties: { tool_calls: { maxItems?: number; items: { anyOf: unknown[] } } } };
    expect(schema.properties.tool_calls.maxItems).toBe(1);
    expect(schema.properties.tool_calls.items.anyOf).toHaveLength(2);
    const calls = parseToolCalls('{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}')!;
    expect(calls[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(calls[0]!.id).toMatch(/^call_/);
    expect(parseToolCalls('It is sunny.')).toBeUndefined();
  });
});

describe('createEngine options', () => {
  it('a misspelt option or a bad number is refused, naming it, before any worker starts', async () => {
    const param = (options: unknown) => createEngine(options as CreateEngineOptions).then(() => 'started', (e: unknown) => (e instanceof InvalidRequestError ? e.param : String(e)));
    expect(await param({ model: '/m/', contextwindow: 64 })).toBe('contextwindow');
    expect(await param({ model: '/m/', contextWindow: 'big' })).toBe('contextWindow');
    expect(await param({ model: '/m/', contextWindow: 0 })).toBe('contextWindow');
    expect(await param({ model: '/m/', firstPromptTokens: -3 })).toBe('firstPromptTokens');
    expect(await param({ model: '/m/', onProgress: 'log' })).toBe('onProgress');
    expect(await param(null)).toBe('options');
  });
});

describe('a disposed engine', () => {
  it('answers every call with a typed error naming the engine, not the worker bridge\'s own', async () => {
    const quiet = new Proxy({}, { get: () => () => Promise.resolve() });
    const engine = new Engine({ service: quiet, kind: 'dedicated', close: () => undefined } as unknown as WorkerConnection, undefined);
    engine.model = { url: 'http://localhost/m/' } as typeof engine.model;
    await engine.dispose();
    const error = await engine.completions.create({ prompt: 'x', max_tokens: 1 }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe('engine');
  });
});
