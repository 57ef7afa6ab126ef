/**
 * Programs written for WebLLM, on the packed `webchuan` package: `npm pack`, its dist/ served as a
 * CDN would serve it, and each program in e2e/webllm-programs/ (our own, making the calls WebLLM's
 * examples make: get-started, streaming, multi-round chat, seed-to-reproduce, text completion, cache
 * usage, JSON mode, JSON schema) run in Chromium with `webllm` = `import * as webllm from 'webchuan'`,
 * on the poetry model. Structured replies are validated here with Ajv.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, Completion, InitProgressReport } from '../packages/sdk/src/index.js';
import { haveChromium, launchChromium } from '../packages/sdk/test/browser/launch.js';
import { REPO_ROOT, tempDir } from '../packages/sdk/test/helpers.js';
import { serveStatic, type StaticServer } from './static-server.js';
// The programs' schemas, for validating their replies here.
import { HARRY, SIMPLE, TOOLS } from './webllm-programs/json-schema.js';

interface ProgramError {
  name: string;
  message: string;
  code?: string;
  param?: string;
}

// Each case runs a whole program on SwiftShader: minutes on a busy 2-core machine.
describe.skipIf(!haveChromium())('WebLLM programs on the packed package', { timeout: 600_000 }, () => {
  const dir = tempDir('webchuan-webllm-programs-');
  let server: StaticServer;
  let browser: Browser;
  const ajv = new Ajv({ strict: false });

  beforeAll(async () => {
    execFileSync('npm', ['pack', '--pack-destination', dir.path], { cwd: join(REPO_ROOT, 'packages/sdk'), stdio: 'pipe' });
    const tarball = readdirSync(dir.path).find((f) => f.endsWith('.tgz'))!;
    mkdirSync(join(dir.path, 'unpacked'));
    execFileSync('tar', ['xzf', join(dir.path, tarball), '-C', join(dir.path, 'unpacked')]);
    server = await serveStatic({
      '/': join(REPO_ROOT, 'e2e/webllm-programs'),
      '/webchuan/': join(dir.path, 'unpacked/package/dist'),
      '/models/poetry-q4f32_1/': join(REPO_ROOT, 'models/poetry/q4f32_1'),
    });
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await shared?.close();
    await browser?.close();
    await server?.close();
    dir.remove();
  });

  /**
   * Programs that load the poetry model as the catalog gives it share one browser profile, and the
   * first one's page stays open: the SharedWorker keeps the model loaded (and its GPU pipelines and
   * XGrammar's tables made) for the next programs, each in a page of its own, as a WebLLM app's tabs
   * would. A program that must see a download (`get-started`, `cache-usage`) or loads the model with
   * other options (a context window of its own: `get-started`, `text-completion`) runs in a profile
   * of its own.
   */
  let shared: BrowserContext | undefined;
  let anchor: Page | undefined;

  /** Runs one program in a new page and returns what it returned. */
  async function program<T>(name: string, profile: 'shared' | 'fresh' = 'shared'): Promise<T> {
    const context = profile === 'fresh' ? await browser.newContext() : (shared ??= await browser.newContext());
    const page: Page = await context.newPage();
    const keep = profile === 'shared' && anchor === undefined;
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    try {
      await page.goto(`${server.origin}/index.html?program=${name}`);
      await page.waitForFunction(() => document.body.dataset['ready'] === 'yes', null, { timeout: 60_000 });
      const out = (await page.evaluate(() => (window as unknown as { runProgram(): Promise<unknown> }).runProgram())) as { result?: T; error?: ProgramError };
      expect(problems).toEqual([]);
      if (out.error) throw new Error(`${name}: ${out.error.name}: ${out.error.message}`);
      if (keep) anchor = page;
      return out.result!;
    } finally {
      if (profile === 'fresh') await context.close();
      else if (anchor !== page) await page.close();
    }
  }

  it('get-started: CreateMLCEngine by model id with progress reports; n, logit_bias, logprobs with top_logprobs', async () => {
    const { reports, reply } = await program<{ reports: InitProgressReport[]; reply: ChatCompletion }>('get-started', 'fresh');
    expect(reports.length).toBeGreaterThan(2);
    for (const r of reports) expect(typeof r.text === 'string' && r.progress >= 0 && r.progress <= 1 && r.timeElapsed >= 0).toBe(true);
    expect(reports.at(-1)!.progress).toBe(1);
    expect(reports.some((r) => (r.loadedBytes ?? 0) > 0 && r.totalBytes === 3616256)).toBe(true);
    expect(reply.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of reply.choices) {
      const content = c.logprobs!.content!;
      expect(content.length).toBeGreaterThan(0);
      for (const t of content) {
        expect(t.top_logprobs).toHaveLength(2);
        expect(t.logprob).toBeLessThanOrEqual(0);
        // The chosen token's log-probability never beats the most likely one's.
        expect(t.logprob).toBeLessThanOrEqual(t.top_logprobs[0]!.logprob + 1e-5);
        expect(t.token).not.toBe('5'); // id 5 ('0') has logit_bias -100
      }
    }
    expect(reply.model).toBe('poetry-q4f32_1');
    expect(reply.usage.completion_tokens).toBe(reply.choices.reduce((n, c) => n + c.logprobs!.content!.length, 0));
    for (const key of ['e2e_latency_s', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'time_to_first_token_s', 'time_per_output_token_s'] as const) expect(reply.usage.extra[key]).toBeGreaterThanOrEqual(0);
  });

  it('streaming: deltas add up to getMessage(), usage only in a last chunk with no choices, logprobs per chunk', async () => {
    const { chunks, message, final } = await program<{ chunks: ChatCompletionChunk[]; message: string; final: string }>('streaming');
    expect(message.length).toBeGreaterThan(0);
    expect(final).toBe(message);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(16);
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    const tokens = chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
    expect(tokens.length).toBe(16);
    expect(tokens.every((t) => t.top_logprobs.length === 2)).toBe(true);
  });

  it('multi-round chat: the second round prefills fewer tokens than the first (the KV cache is reused)', async () => {
    const r = await program<{ reply0: ChatCompletion; reply1: ChatCompletion; message0: string }>('multi-round-chat');
    expect(r.message0).toBe(r.reply0.choices[0]!.message.content);
    expect(r.reply1.usage.prompt_tokens).toBeLessThan(r.reply0.usage.prompt_tokens);
    // Round 0's whole prompt is reused (its reply is re-tokenized inside the transcript, so from there on it may differ).
    expect(r.reply1.usage.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(r.reply0.usage.prompt_tokens);
  });

  it('seed-to-reproduce: the same seeded request gives the same three choices, which differ from each other', async () => {
    const { reply0, reply1, last0 } = await program<{ reply0: ChatCompletion; reply1: ChatCompletion; last0: string }>('seed-to-reproduce');
    const texts = (r: ChatCompletion) => r.choices.map((c) => c.message.content);
    expect(texts(reply0)).toHaveLength(3);
    expect(texts(reply1)).toEqual(texts(reply0));
    expect(new Set(texts(reply0)).size).toBeGreaterThan(1);
    expect(last0).toBe(reply0.choices[2]!.message.content);
  });

  it('text-completion: a page AppConfig; echo returns the prompt first; two choices with logprobs of the generated tokens', async () => {
    const { reply } = await program<{ reply: Completion }>('text-completion', 'fresh');
    expect(reply.model).toBe('poetry-base');
    expect(reply.choices).toHaveLength(2);
    const prompt = '登鹳雀楼->王之涣\n夜雨寄北->';
    for (const c of reply.choices) {
      expect(c.text.startsWith(prompt)).toBe(true);
      const lp = c.logprobs!;
      expect(lp.content.length).toBeGreaterThan(0);
      expect(lp.content.length).toBeLessThanOrEqual(8);
      expect(lp.token_logprobs).toEqual(lp.content.map((t) => t.logprob));
      // The generated tokens spell the generated text, and their offsets count from the echoed prompt's start.
      expect(lp.tokens.join('')).toBe(c.text.slice(prompt.length));
      expect(lp.text_offset[0]).toBe(prompt.length);
      expect(lp.top_logprobs!.every((alternatives) => Object.keys(alternatives).length === 2)).toBe(true);
    }
    expect(reply.usage.completion_tokens).toBe(reply.choices.reduce((n, c) => n + c.logprobs!.content.length, 0));
    // The model knows this one: 夜雨寄北 is 李商隐's.
    expect(reply.choices.some((c) => c.text.includes('李商隐'))).toBe(true);
  });

  it('cache-usage: hasModelInCache, a reload from the cache, deleteModelAllInfoInCache, and a fresh download', async () => {
    type Reply = { reports: InitProgressReport[]; reply: ChatCompletion };
    const r = await program<{ first: ChatCompletion; cached: boolean; fromCache: Reply; afterDelete: boolean; downloadedAgain: Reply; cachedAtEnd: boolean }>('cache-usage', 'fresh');
    expect(r.cached).toBe(true);
    expect(r.fromCache.reply.choices[0]!.message.content).toBe(r.first.choices[0]!.message.content);
    expect(r.fromCache.reports.every((p) => (p.cachedBytes ?? 0) === (p.totalBytes ?? 0))).toBe(true);
    expect(r.afterDelete).toBe(false);
    expect(r.downloadedAgain.reports.some((p) => p.cachedBytes === 0)).toBe(true);
    expect(r.downloadedAgain.reply.choices[0]!.message.content).toBe(r.first.choices[0]!.message.content);
    expect(r.cachedAtEnd).toBe(true);
  });

  it('json-mode: every choice held to JSON: one that ends parses to an object, one cut by max_tokens is the start of one', async () => {
    const { reply, last } = await program<{ reply: ChatCompletion; last: string }>('json-mode');
    expect(reply.choices).toHaveLength(2);
    for (const c of reply.choices) {
      const text = c.message.content!;
      // An object with no schema may hold a string the model never closes: then max_tokens cuts it, as on OpenAI.
      if (c.finish_reason === 'length') {
        expect(isJsonObjectPrefix(text), text).toBe(true);
        continue;
      }
      expect(c.finish_reason).toBe('stop');
      const value: unknown = JSON.parse(text);
      expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
    }
    expect(last).toBe(reply.choices[1]!.message.content);
    expect(reply.usage.extra.grammar_init_s).toBeGreaterThanOrEqual(0);
    expect(reply.usage.extra.grammar_per_token_s).toBeGreaterThan(0);
  });

  it('json-schema: WebLLM\'s schema string, OpenAI\'s json_schema streamed, an EBNF grammar and tools all validate', async () => {
    const r = await program<{ harry: ChatCompletion; streamed: string; grammar: ChatCompletion; tools: ChatCompletion; toolsStreamed: ChatCompletionChunk[] }>('json-schema');
    for (const reply of [r.harry, r.tools]) expect(reply.choices[0]!.finish_reason, JSON.stringify(reply.choices[0])).not.toBe('length');
    const valid = (schema: object, text: string | null) => {
      const validate = ajv.compile(schema);
      expect(validate(JSON.parse(text!)), `${text} ${ajv.errorsText(validate.errors)}`).toBe(true);
    };
    valid(HARRY, r.harry.choices[0]!.message.content);
    valid(SIMPLE, r.streamed);
    expect(r.grammar.choices[0]!.finish_reason).toBe('stop');
    expect(r.grammar.choices[0]!.message.content).toMatch(/^\{ ?"[a-z]{1,8}" ?: ?(true|false|null|[0-9]{1,3})( ?, ?"[a-z]{1,8}" ?: ?(true|false|null|[0-9]{1,3})){0,2} ?\}$/);
    expect(typeof JSON.parse(r.grammar.choices[0]!.message.content!)).toBe('object');
    expect(r.harry.usage.extra.grammar_per_token_s).toBeGreaterThan(0);
    const call = r.tools.choices[0]!;
    expect(call.finish_reason).toBe('tool_calls');
    expect(call.message.content).toBeNull();
    expect(call.message.tool_calls).toHaveLength(1); // parallel_tool_calls: false
    expect(call.message.tool_calls![0]!.function.name).toBe('get_weather');
    valid(TOOLS[0]!.function.parameters, call.message.tool_calls![0]!.function.arguments);
    const streamedCall = r.toolsStreamed.find((c) => c.choices[0]?.delta.tool_calls)!.choices[0]!;
    expect(streamedCall.finish_reason).toBe('tool_calls');
    valid(TOOLS[0]!.function.parameters, streamedCall.delta.tool_calls![0]!.function!.arguments!);
  });

  it('refuses what it cannot do, naming the field; content parts, the tool role, interruptGenerate, ignore_eos and the engine\'s informational methods', async () => {
    type Refusal = { name: string; code?: string; param?: string } | null;
    const r = await program<Record<string, Refusal> & { parts: ChatCompletion; tool: ChatCompletion; interrupted: ChatCompletionChunk[]; ignoreEos: Completion; stats: string; vendor: string; maxBinding: number; messageAfterReset: string }>('refusals');
    expect(r['streamYes']).toMatchObject({ name: 'InvalidRequestError', code: 'invalid-request', param: 'stream' });
    expect(r['ownStreamYes']).toMatchObject({ name: 'InvalidRequestError', param: 'stream' });
    expect(r['bestOf']).toMatchObject({ name: 'InvalidRequestError', param: 'best_of' });
    expect(r['image']).toMatchObject({ name: 'InvalidRequestError', param: 'messages[0].content[1]' });
    expect(r['streamOptions']).toMatchObject({ name: 'InvalidRequestError', param: 'stream_options' });
    expect(r['unknownModel']).toMatchObject({ name: 'InvalidRequestError', param: 'model' });
    expect(r['embeddings']).toMatchObject({ name: 'InvalidRequestError', param: 'embeddings' });
    expect(r.parts.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(r.tool.choices[0]!.finish_reason).toBe('length');
    const finish = r.interrupted.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
    expect(finish).toEqual(['abort']);
    expect(r.interrupted.length).toBeLessThan(40);
    expect(r.ignoreEos.usage.completion_tokens).toBe(40);
    expect(r.stats).toMatch(/^prefill: [\d.]+ tokens\/sec, decoding: [\d.]+ tokens\/sec$/);
    expect(typeof r.vendor).toBe('string');
    expect(r.maxBinding).toBeGreaterThan(1 << 20);
    expect(r.messageAfterReset).toBe('');
  });
});


/**
 * Whether `text` is the start of a JSON object: some ending makes it parse. The ending closes an open
 * string, finishes a cut literal, number or key, and closes every open bracket.
 */
function isJsonObjectPrefix(text: string): boolean {
  if (!text.startsWith('{')) return false;
  const closers: string[] = [];
  let inString = false;
  let escaped = false;
  for (const ch of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') closers.push('}');
    else if (ch === '[') closers.push(']');
    else if (ch === '}' || ch === ']') closers.pop();
  }
  const close = closers.reverse().join('');
  const base = inString ? text.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '') + '"' : text;
  const endings = ['', '0', 'null', ': 0', '"": 0', 'e', 'ue', 'rue', 'se', 'lse', 'alse', 'l', 'll', 'ull'];
  return [base, base.replace(/,\s*$/, '')].some((start) =>
    endings.some((ending) => {
      try {
        JSON.parse(start + ending + close);
        return true;
      } catch {
        return false;
      }
    }),
  );
}
