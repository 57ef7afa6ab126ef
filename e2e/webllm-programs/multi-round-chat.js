// As WebLLM's multi-round chat example: the second round sends the whole history, and prefills only
// what the first did not already leave in the KV cache (usage.prompt_tokens is what was prefilled).
export async function run(webllm) {
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1');
  const messages = [
    { role: 'system', content: '你是一位熟读唐诗三百首的老师，回答时只写诗人的名字和诗句，不写别的。' },
    { role: 'user', content: '春晓' },
  ];
  const reply0 = await engine.chat.completions.create({ stream: false, messages, max_tokens: 12, temperature: 0 });
  const message0 = await engine.getMessage();
  messages.push({ role: 'assistant', content: message0 }, { role: 'user', content: '静夜思' });
  const reply1 = await engine.chat.completions.create({ stream: false, messages, max_tokens: 12, temperature: 0 });
  return { reply0, reply1, message0, message1: await engine.getMessage() };
}
