/**
 * Type tests (checked by `npm run typecheck`, never run): code typed the way WebLLM's examples and
 * OpenAI-style apps type it must compile against webchuan, and misuse must not. A regression here
 * is a compile error, e.g. TS2769 ("No overload matches this call") for a request whose `stream` is
 * a plain boolean.
 */
import * as webllm from '../src/index.js';
import type { ChatCompletionChunk, CompletionChunk, Engine } from '../src/index.js';

export async function webllmExamples(): Promise<void> {
  const report = (r: webllm.InitProgressReport): string => `${r.text} ${r.progress} ${r.timeElapsed} ${r.loadedBytes ?? 0}`;
  const engine: webllm.MLCEngineInterface = await webllm.CreateMLCEngine('poetry-q4f32_1', { initProgressCallback: (r) => void report(r), logLevel: 'INFO' }, { context_window_size: 512 });

  // get-started: non-streamed chat with n, logit_bias, logprobs.
  const reply0 = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'List three US states.' }], n: 3, temperature: 1.5, max_tokens: 256, logit_bias: { '46510': -100 }, logprobs: true, top_logprobs: 2 });
  const first: string | null = reply0.choices[0]!.message.content;
  const lp: number | undefined = reply0.choices[0]!.logprobs?.content?.[0]?.top_logprobs[0]?.logprob;
  void [first, lp, reply0.usage.extra.e2e_latency_s];

  // streaming: a request typed as WebLLM's union narrows to the streaming overload.
  const request: webllm.ChatCompletionRequest = { stream: true, stream_options: { include_usage: true }, messages: [{ role: 'system', content: 'pirate' }, { role: 'user', content: 'Who are you?' }], logprobs: true, top_logprobs: 2 };
  const chunks = await engine.chat.completions.create(request);
  for await (const chunk of chunks) {
    const piece: string = chunk.choices[0]?.delta?.content || '';
    void piece;
  }
  const message: string = await engine.getMessage();

  // multi-round chat and the message types.
  const messages: webllm.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Provide me three US states.' }];
  messages.push({ role: 'assistant', content: message }, { role: 'user', content: [{ type: 'text', text: 'Two more please!' }] });
  const request1: webllm.ChatCompletionRequest = { stream: false, messages };
  const reply1: webllm.ChatCompletion = await engine.chat.completions.create(request1);
  void reply1.usage.prompt_tokens;

  // text completion (echo, n, logprobs), json mode, json schema, grammar, through chatCompletion/completion.
  const text = await engine.completions.create({ prompt: 'List 3 US states: ', echo: true, n: 2, max_tokens: 64 });
  void text.choices[1]!.text;
  const json = await engine.chatCompletion({ messages: [{ role: 'user', content: 'JSON please' }], n: 2, max_tokens: 128, response_format: { type: 'json_object' } as webllm.ResponseFormat });
  void json.choices;
  const schema = await engine.chatCompletion({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object', schema: '{"type":"object"}' } });
  const grammar = await engine.chatCompletion({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'grammar', grammar: 'root ::= "a"' } });
  const openai = await engine.chatCompletion({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' }, strict: true } } });
  void [schema, grammar, openai];

  // tools in OpenAI's shape.
  const tools: webllm.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const call = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'required' });
  const args: string | undefined = call.choices[0]!.message.tool_calls?.[0]?.function.arguments;
  void args;

  // cache helpers and engine methods.
  const cached: boolean = await webllm.hasModelInCache('poetry-q4f32_1', webllm.prebuiltAppConfig);
  await webllm.deleteModelAllInfoInCache('poetry-q4f32_1');
  await engine.reload('poetry-q4f32_1');
  await engine.resetChat();
  engine.interruptGenerate();
  const stats: string = await engine.runtimeStatsText();
  const vendor: string = await engine.getGPUVendor();
  const size: number = await engine.getMaxStorageBufferBindingSize();
  void [cached, stats, vendor, size];
  const appConfig: webllm.AppConfig = { model_list: [{ model: '/models/poetry/', model_id: 'poetry', overrides: { context_window_size: 512 } }] };
  const engine2 = new webllm.MLCEngine({ appConfig });
  engine2.setInitProgressCallback((r: webllm.InitProgressReport) => void r.text);
  await engine2.reload('poetry');
}

/** webchuan's own API: `stream` typed as a plain boolean is a valid request (it was TS2769). */
export async function ownApi(engine: Engine, stream: boolean): Promise<void> {
  const params: { prompt: string; max_tokens: number; stream?: boolean } = { prompt: 'Hello', max_tokens: 4, stream };
  const either = engine.completions.create(params);
  const result: AsyncIterable<CompletionChunk> | Promise<webllm.Completion> = either;
  void result;
  const chat = engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], stream });
  const chatResult: AsyncIterable<ChatCompletionChunk> | Promise<webllm.ChatCompletion> = chat;
  void chatResult;
  // The literal forms keep their precise types.
  const streamed: AsyncIterable<CompletionChunk> = engine.completions.create({ prompt: 'Hello', stream: true });
  const whole: webllm.Completion = await engine.completions.create({ prompt: 'Hello' });
  void [streamed, whole];
  // @ts-expect-error `stream` is a boolean: 'yes' is refused by the types, and at run time by an InvalidRequestError.
  engine.completions.create({ prompt: 'Hello', stream: 'yes' });
}
