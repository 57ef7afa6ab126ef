// What webchuan refuses instead of ignoring, and the engine methods a WebLLM app calls around requests.
export async function run(webllm) {
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1');
  const refused = async (request, create = (r) => engine.chat.completions.create(r)) => {
    try {
      await create(request);
      return null;
    } catch (error) {
      return { name: error.name, code: error.code, param: error.param };
    }
  };
  const messages = [{ role: 'user', content: '春晓' }];
  const own = engine.engineOf();
  const ownRefused = (make) => {
    try {
      make();
      return null;
    } catch (error) {
      return { name: error.name, param: error.param };
    }
  };
  const results = {
    streamYes: await refused({ messages, stream: 'yes' }),
    ownStreamYes: ownRefused(() => own.completions.create({ prompt: 'x', stream: 'yes' })),
    bestOf: await refused({ prompt: '登鹳雀楼->', best_of: 2 }, (r) => engine.completions.create(r)),
    image: await refused({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,' } }] }] }),
    streamOptions: await refused({ messages, stream_options: { include_usage: true } }),
    unknownModel: await refused({ messages, model: 'Llama-3.1-8B-Instruct-q4f32_1-MLC' }),
    embeddings: await refused({ input: 'x' }, (r) => engine.embeddings.create(r)),
  };
  // A content array of text parts is read as text, and a tool's result in the tool role.
  const parts = await engine.chat.completions.create({ messages: [{ role: 'user', content: [{ type: 'text', text: '春' }, { type: 'text', text: '晓' }] }], max_tokens: 4, temperature: 0 });
  const tool = await engine.chat.completions.create({
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
    ],
    max_tokens: 4,
    temperature: 0,
  });
  // interruptGenerate() during a stream: the stream ends early with finish_reason 'abort'.
  const chunks = [];
  for await (const chunk of await engine.chat.completions.create({ messages, stream: true, max_tokens: 200, temperature: 0, ignore_eos: true })) {
    chunks.push(chunk);
    if (chunks.length === 3) engine.interruptGenerate();
  }
  const ignoreEos = await engine.completions.create({ prompt: '登鹳雀楼->', max_tokens: 40, temperature: 0, ignore_eos: true });
  await engine.resetChat();
  return {
    ...results,
    parts,
    tool,
    interrupted: chunks,
    ignoreEos,
    stats: await engine.runtimeStatsText(),
    vendor: await engine.getGPUVendor(),
    maxBinding: await engine.getMaxStorageBufferBindingSize(),
    messageAfterReset: await engine.getMessage(),
  };
}
