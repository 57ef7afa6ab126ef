/**
 * Debian's Firefox ESR for the browser tests, driven over WebDriver BiDi by puppeteer-core (Firefox's
 * own remote protocol: no patched browser to download, unlike Playwright's Firefox), headless, with
 * WebGPU on (the Firefox lane) or off (as in Firefox on Linux and Android by default until recently,
 * or by policy: the CPU path's tests). Firefox picks its own Vulkan driver (on a machine without a
 * GPU: Mesa's lavapipe), so a driver chosen for Dawn in this process (VK_ICD_FILENAMES) is not passed
 * on to it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const FIREFOX = process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr';

/** True when Firefox is installed; otherwise prints how to install it (and fails under CI=true). */
export function haveFirefox(): boolean {
  if (existsSync(FIREFOX)) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but ${FIREFOX} is missing: apt-get install -y firefox-esr`);
  console.warn(`[skip] ${FIREFOX} is absent (apt-get install -y firefox-esr): Firefox tests are skipped`);
  return false;
}

/** Preferences of a test profile: WebGPU on (in workers too, where the engine runs) or off; no first-run pages, updates or telemetry. */
function prefs(webgpu: boolean): Record<string, unknown> {
  return {
    'dom.webgpu.enabled': webgpu,
    'dom.webgpu.workers.enabled': webgpu,
    // Firefox allows WebGPU only on GPUs and drivers it has vetted; a software Vulkan is not one of them.
    'gfx.webgpu.ignore-blocklist': webgpu,
    'browser.shell.checkDefaultBrowser': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'app.update.enabled': false,
  };
}

/** A headless Firefox with its own throwaway profile; closing the browser removes the profile. */
export async function launchFirefox(options: { webgpu: boolean }): Promise<Browser> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env['VK_ICD_FILENAMES'];
  const profile = mkdtempSync(join(tmpdir(), 'webchuan-firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    userDataDir: profile,
    extraPrefsFirefox: prefs(options.webgpu),
    env: env as Record<string, string>,
  });
  browser.on('disconnected', () => rmSync(profile, { recursive: true, force: true }));
  return browser;
}

/** The WebGPU adapter `page` gets, as one line: every GPU test says what it ran on. */
export async function pageAdapter(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return navigator.gpu ? 'WebGPU without an adapter' : 'no WebGPU';
    const i = adapter.info;
    const features = ['shader-f16', 'subgroups', 'timestamp-query'].map((f) => (adapter.features.has(f) ? f : `no ${f}`)).join(', ');
    const name = i.description || i.architecture || 'adapter with no name (Firefox hides it)';
    return `${name} [${[i.vendor, i.architecture, i.isFallbackAdapter ? 'fallback' : ''].filter(Boolean).join(', ')}] · ${features} · storage binding ${adapter.limits.maxStorageBufferBindingSize / 2 ** 20} MiB`;
  });
}
