/** Runs the real `webchuan` command (bin/webchuan.js through Node) as a child process, for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = resolve(fileURLToPath(import.meta.url), '../../bin/webchuan.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Starts `webchuan ...args`; `onStderr` sees stderr as it arrives (to act mid-run). */
export function startCli(args: string[], onStderr?: (text: string, child: ChildProcess) => void, timeoutMs = 60_000): Promise<CliResult> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, child);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolvePromise) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

export const runCli = (...args: string[]) => startCli(args);

/**
 * Every entry under `path` (itself included) with its kind and content hash: two equal snapshots
 * mean nothing there was deleted, added or changed.
 */
export function snapshot(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (p: string, rel: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      out[rel] = 'absent';
      return;
    }
    if (st.isSymbolicLink()) out[rel] = `link → ${readlinkSync(p)}`;
    else if (st.isDirectory()) {
      out[rel] = 'dir';
      for (const name of readdirSync(p).sort()) visit(join(p, name), `${rel}/${name}`);
    } else out[rel] = `file ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  };
  visit(path, '.');
  return out;
}
