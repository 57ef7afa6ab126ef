/**
 * Debian's Firefox ESR for browser tests, driven by puppeteer-core over WebDriver BiDi (Firefox's own
 * remote protocol: no patched browser to download, unlike Playwright's Firefox). `webgpu: false`
 * switches WebGPU off, as in Firefox on Linux and Android by default until recently, or by policy.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const FIREFOX = process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr';

/** True when Firefox is installed; otherwise prints how to install it (and fails under CI=true). */
export function haveFirefox(): boolean {
  if (existsSync(FIREFOX)) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but ${FIREFOX} is missing: apt-get install -y firefox-esr`);
  console.warn(`[skip] ${FIREFOX} is absent (apt-get install -y firefox-esr): Firefox tests are skipped`);
  return false;
}

/** A headless Firefox with its own throwaway profile; closing the browser removes the profile. */
export async function launchFirefox(options: { webgpu: boolean }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'webchuan-firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: {
      'dom.webgpu.enabled': options.webgpu,
      // No first-run pages, updates or telemetry: the test owns the only tab.
      'browser.shell.checkDefaultBrowser': false,
      'app.update.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
    },
  });
  browser.on('disconnected', () => rmSync(profile, { recursive: true, force: true }));
  return browser;
}
