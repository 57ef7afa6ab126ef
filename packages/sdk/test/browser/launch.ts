/** Starts the harness page (Vite, with the faulty artifact server mounted) and Debian's Chromium. */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { faultyArtifactServer } from './fault-server.js';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** True when Chromium is installed; otherwise prints how to install it (and fails under CI=true). */
export function haveChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but ${CHROMIUM} is missing: apt-get install -y chromium`);
  console.warn(`[skip] ${CHROMIUM} is absent (apt-get install -y chromium): browser tests are skipped`);
  return false;
}

const FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Chromium's command line: WebGPU on SwiftShader, or none. */
export function chromiumArgs(webgpu = true): string[] {
  return webgpu ? [...FLAGS, '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader'] : [...FLAGS, '--disable-webgpu'];
}

let adapterPrinted = false;

export async function launchChromium(webgpu = true): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(webgpu) });
  if (webgpu && !adapterPrinted) {
    adapterPrinted = true;
    console.log(`[gpu] Chromium ${browser.version()}: ${await browserAdapter(browser)}`);
  }
  return browser;
}

/**
 * The WebGPU adapter a page of `browser` gets, as one line (once per test file: every GPU test says
 * what it ran on). The probe page is answered by the browser itself: WebGPU needs a secure origin,
 * and http://localhost is one without a server.
 */
export async function browserAdapter(browser: Browser): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.route('http://localhost/webgpu-probe', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>probe</title>' }));
    await page.goto('http://localhost/webgpu-probe');
    return await page.evaluate(async () => {
      const adapter = await navigator.gpu?.requestAdapter();
      if (!adapter) return navigator.gpu ? 'WebGPU without an adapter' : 'no WebGPU';
      const i = adapter.info;
      const features = ['shader-f16', 'subgroups', 'timestamp-query'].map((f) => (adapter.features.has(f) ? f : `no ${f}`)).join(', ');
      return `${i.description || i.architecture || 'unnamed adapter'} [${[i.vendor, i.architecture, i.isFallbackAdapter ? 'fallback' : ''].filter(Boolean).join(', ')}] · ${features}`;
    });
  } finally {
    await context.close();
  }
}

export interface Harness {
  origin: string;
  server: ViteDevServer;
  artifacts: ReturnType<typeof faultyArtifactServer>;
  close(): Promise<void>;
}

/**
 * Serves test/browser/ (the harness page) and, under /artifacts/, the files of `artifactRoot`.
 * `prebundle`: dependencies Vite should bundle before the page asks (a big one found later, such as
 * WebLLM in its worker, would make Vite reload the page mid-test). `crossOriginIsolated`: serve with
 * COOP/COEP (the artifacts too come from the same origin). `alias`: module names resolved to other
 * packages (a test of another WebLLM version maps `@mlc-ai/web-llm` to it, as an app's bundler would).
 */
export async function startHarness(artifactRoot: string, prebundle: string[] = [], options: { crossOriginIsolated?: boolean; alias?: Record<string, string> } = {}): Promise<Harness> {
  const artifacts = faultyArtifactServer(artifactRoot);
  // COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so the CPU path can run threads.
  const headers = options.crossOriginIsolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : undefined;
  const server = await createServer({
    configFile: false,
    root: dirname(fileURLToPath(import.meta.url)),
    logLevel: 'error',
    server: { host: 'localhost', port: 0, strictPort: false, headers },
    optimizeDeps: { include: ['idb-keyval', ...prebundle] },
    resolve: { alias: options.alias ?? {} },
    plugins: [{ name: 'faulty-artifacts', configureServer: (s) => void s.middlewares.use(artifacts.middleware) }],
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { origin: `http://localhost:${port}`, server, artifacts, close: () => server.close() };
}
