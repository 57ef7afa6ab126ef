// As WebLLM's cache-usage example: load (downloading into the cache), ask, check hasModelInCache,
// reload from the cache, delete everything of the model, and load it again (a fresh download).
export async function run(webllm) {
  const appConfig = webllm.prebuiltAppConfig;
  appConfig.cacheBackend = 'indexeddb';
  const reports = [];
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1', { appConfig, initProgressCallback: (r) => reports.push(r) });
  const request = { stream: false, messages: [{ role: 'user', content: '春晓' }], n: 1, temperature: 0, max_tokens: 10 };
  const first = await engine.chat.completions.create(request);
  const cached = await webllm.hasModelInCache('poetry-q4f32_1', appConfig);
  reports.length = 0;
  await engine.reload('poetry-q4f32_1');
  const fromCache = { reports: reports.slice(), reply: await engine.chat.completions.create(request) };
  await webllm.deleteModelAllInfoInCache('poetry-q4f32_1', appConfig);
  const afterDelete = await webllm.hasModelInCache('poetry-q4f32_1', appConfig);
  reports.length = 0;
  await engine.reload('poetry-q4f32_1');
  const downloadedAgain = { reports: reports.slice(), reply: await engine.chat.completions.create(request) };
  return { first, cached, fromCache, afterDelete, downloadedAgain, cachedAtEnd: await webllm.hasModelInCache('poetry-q4f32_1', appConfig) };
}
