// As WebLLM's seed example: the same seeded request twice at a high temperature, three choices each:
// choice i of the first reply equals choice i of the second.
export async function run(webllm) {
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1');
  const request = { stream: false, messages: [{ role: 'user', content: '春晓' }], n: 3, temperature: 1.2, max_tokens: 16, seed: 42 };
  const reply0 = await engine.chat.completions.create(request);
  const last0 = await engine.getMessage();
  const reply1 = await engine.chat.completions.create(request);
  return { reply0, reply1, last0 };
}
