// As WebLLM's JSON mode example: chatCompletion() with response_format json_object and two choices.
// Seeded, so that each run sees the same replies (an object with no schema may hold a string the
// poetry model never closes before max_tokens).
export async function run(webllm) {
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1');
  const reply = await engine.chatCompletion({
    stream: false,
    messages: [{ role: 'user', content: 'Write a short JSON file introducing yourself.' }],
    n: 2,
    max_tokens: 160,
    seed: 1,
    response_format: { type: 'json_object' },
  });
  return { reply, last: await engine.getMessage() };
}
