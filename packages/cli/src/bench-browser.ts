/**
 * `webchuan bench --backend cpu --model <dir>`: the CPU path (llama.cpp in WebAssembly) beside our
 * WebGPU engine on the same artifact, in the same page of one Chromium (WebGPU on this machine's
 * adapter: SwiftShader where there is no GPU), one engine after the other: load time (download into
 * IndexedDB, then GPU upload or GGUF build and llama.cpp load), the first request (the WebGPU engine
 * compiles its pipelines there), then a measured request — prefill and decode speed from the usage
 * figures — and whether both engines produced the same greedy text. The page's CPU probe
 * (cpu/probe.ts) is reported with it, which is how deviceVerdict's CPU estimate was fitted.
 *
 * Speed is measured here, in a script that prints figures, never in a test.
 */
import { basename, dirname, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumArgs, startHarness } from '../../sdk/test/browser/launch.js';
import type {} from '../../sdk/test/browser/sdk-harness.js'; // the page's window.sdk
import { openArtifact } from '../../sdk/src/model/artifact.js';
import { directorySource } from './fs-source.js';

export interface BrowserBenchOptions {
  model: string;
  backends: ('webchuan' | 'cpu')[];
  /** Tokens to decode in the measured request. */
  decodeTokens: number;
  contextWindow?: number;
  /** llama.cpp threads (the page is served cross-origin isolated when more than one). */
  threads?: number;
  log: (line: string) => void;
}

export interface EngineFigures {
  backend: string;
  load_s: number;
  first_request_s: number;
  prompt_tokens: number;
  completion_tokens: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  text: string;
  info: unknown;
}

/** A prompt of the poetry corpus's shape; for other vocabularies it is just text. */
const PROMPT = '长恨歌->白居易\n汉皇重色思倾国，御宇多年求不得。杨家有女初长成，养在深闺人未识。';

export async function benchBrowser(options: BrowserBenchOptions): Promise<{ probe_bytes_per_s: number; cross_origin_isolated: boolean; engines: EngineFigures[]; same_text: boolean }> {
  const dir = resolve(options.model);
  const isolated = (options.threads ?? 1) > 1;
  const harness = await startHarness(dirname(dir), [], { crossOriginIsolated: isolated });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(true) });
  try {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => options.log(`page error: ${e.message}`));
    await page.goto(`${harness.origin}/sdk.html`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'ready');
    const url = `${harness.origin}/artifacts/${basename(dir)}/`;
    const probe = await page.evaluate(() => window.sdk.probe());
    const crossOriginIsolated = await page.evaluate(() => window.sdk.isolated());
    options.log(`CPU probe: ${(probe / 1e9).toFixed(2)} GB/s; cross-origin isolated: ${crossOriginIsolated}`);
    // The end-of-text token is held off on both engines, so both decode the full length.
    const { info } = await openArtifact(directorySource(dir));
    const bias: Record<string, number> = Object.fromEntries(info.config.stopTokenIds.map((id) => [String(id), -100]));
    const engines: EngineFigures[] = [];
    for (const backend of options.backends) {
      const t0 = Date.now();
      const started = await page.evaluate(([u, c, b, t]) => window.sdk.start(u, false, c, b, b, t), [url, options.contextWindow, backend, options.threads] as const);
      if (started.error) throw new Error(`${backend}: ${started.error.message}`);
      const load = (Date.now() - t0) / 1000;
      options.log(`${backend}: loaded in ${load.toFixed(1)} s`);
      const params = { prompt: PROMPT, max_tokens: options.decodeTokens, temperature: 0, logit_bias: bias };
      const first = await page.evaluate(([p, b]) => window.sdk.timed(p, b), [{ ...params, max_tokens: 2 }, backend] as const);
      if (first.error) throw new Error(`${backend} first request: ${first.error.message}`);
      options.log(`${backend}: first request in ${(first.ms / 1000).toFixed(1)} s`);
      const r = await page.evaluate(([p, b]) => window.sdk.complete(p, b), [params, backend] as const);
      if (r.error) throw new Error(`${backend}: ${r.error.message}`);
      const u = r.result!.usage;
      const figures: EngineFigures = {
        backend,
        load_s: load,
        first_request_s: first.ms / 1000,
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        prefill_tokens_per_s: u.extra.prefill_tokens_per_s,
        decode_tokens_per_s: u.extra.decode_tokens_per_s,
        text: r.result!.choices[0]!.text,
        info: started.info,
      };
      options.log(`${backend}: prefill ${figures.prefill_tokens_per_s.toFixed(1)} tok/s, decode ${figures.decode_tokens_per_s.toFixed(1)} tok/s`);
      engines.push(figures);
      await page.evaluate((b) => window.sdk.close(b), backend);
    }
    return { probe_bytes_per_s: probe, cross_origin_isolated: crossOriginIsolated, engines, same_text: engines.every((e) => e.text === engines[0]!.text) };
  } finally {
    await browser.close();
    await harness.close();
  }
}
