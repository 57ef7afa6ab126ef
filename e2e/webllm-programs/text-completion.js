// As WebLLM's text-completion example: a base model named by an AppConfig of the page's own, then a
// completion with echo, two choices and logprobs.
export async function run(webllm) {
  const appConfig = { model_list: [{ model: '/models/poetry-q4f32_1/', model_id: 'poetry-base', overrides: { context_window_size: 256 } }] };
  const engine = await webllm.CreateMLCEngine('poetry-base', { appConfig, logLevel: 'INFO' });
  const reply = await engine.completions.create({ prompt: '登鹳雀楼->王之涣\n夜雨寄北->', echo: true, n: 2, max_tokens: 8, logprobs: true, top_logprobs: 2 });
  return { reply };
}
