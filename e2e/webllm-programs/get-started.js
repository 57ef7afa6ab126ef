// As WebLLM's get-started example: a model id from the prebuilt AppConfig, progress reports, a
// context window from chatOpts, then one chat request with several choices, logit_bias and logprobs.
export async function run(webllm, setLabel) {
  const reports = [];
  const engine = await webllm.CreateMLCEngine(
    'poetry-q4f32_1',
    { initProgressCallback: (report) => (reports.push(report), setLabel('init-label', report.text)), logLevel: 'INFO' },
    { context_window_size: 512 },
  );
  const reply = await engine.chat.completions.create({
    messages: [{ role: 'user', content: '春晓' }],
    n: 3,
    temperature: 1.5,
    max_tokens: 12,
    logit_bias: { 5: -100, 6: 5 },
    logprobs: true,
    top_logprobs: 2,
  });
  return { reports, reply };
}
