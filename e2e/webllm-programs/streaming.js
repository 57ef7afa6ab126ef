// As WebLLM's streaming example: a system and a user message, streamed with usage in a last chunk,
// logprobs with two alternatives, then getMessage() for the whole reply.
export async function run(webllm, setLabel) {
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1', { initProgressCallback: (r) => setLabel('init-label', r.text) });
  const request = {
    stream: true,
    stream_options: { include_usage: true },
    messages: [
      { role: 'system', content: '你是一位诗人。' },
      { role: 'user', content: '春晓' },
    ],
    logprobs: true,
    top_logprobs: 2,
    max_tokens: 16,
  };
  const chunks = [];
  let message = '';
  for await (const chunk of await engine.chat.completions.create(request)) {
    chunks.push(chunk);
    message += chunk.choices[0]?.delta?.content || '';
    setLabel('generate-label', message);
  }
  return { chunks, message, final: await engine.getMessage() };
}
