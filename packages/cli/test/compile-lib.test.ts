/**
 * `webchuan compile-lib` (the real command, as a child process): input it cannot compile is refused
 * with one clear line and nothing written, before any toolchain work; and a library for
 * Baichuan-7B's real shape (32 layers, hidden 4096, vocabulary 64,000, q4f16_1, context 4,096)
 * compiles from an artifact's index alone and passes `check-lib` against it.
 *
 * The compile needs the toolchain (python3-venv, Debian's emscripten, PyPI); without them that case
 * is skipped with a notice, except under CI=true. webllm-tvm.browser.test.ts runs a compiled library.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BAICHUAN_7B } from '../../sdk/src/model/config.js';
import { tempDir } from '../../sdk/test/helpers.js';
import { writeArtifactIndex } from './artifact-index.js';
import { runCli, startCli } from './cli-run.js';

function toolchainPrerequisites(): boolean {
  const missing = [
    spawnSync('python3', ['-m', 'venv', '--help']).status === 0 ? undefined : 'python3 -m venv (apt-get install python3-venv)',
    spawnSync('emcc', ['--version']).status === 0 ? undefined : 'emcc (apt-get install emscripten)',
  ].filter(Boolean);
  if (missing.length === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but the TVM toolchain cannot be made: no ${missing.join(', no ')}`);
  console.warn(`[skip] compile-lib: no ${missing.join(', no ')}: the compile case is skipped`);
  return false;
}

describe('webchuan compile-lib', () => {
  it('refuses what it cannot compile, naming why, and writes nothing', async () => {
    const dir = tempDir('webchuan-compile-lib-');
    try {
      const config = JSON.parse(readFileSync(join(import.meta.dirname, '../../../models/poetry/q4f32_1/mlc-chat-config.json'), 'utf8')) as Record<string, unknown>;
      const cases: [string, Record<string, unknown> | undefined, RegExp][] = [
        ['none', undefined, /no mlc-chat-config\.json/],
        ['llama', { ...config, model_type: 'llama' }, /model_type "llama" cannot be compiled/],
        ['q3', { ...config, quantization: 'q3f16_0' }, /quantization "q3f16_0" cannot be compiled \(one of q0f32, q4f32_1, q4f16_1\)/],
        ['shapeless', { ...config, model_config: { vocab_size: 5000 } }, /model_config lacks hidden_size, intermediate_size/],
      ];
      for (const [name, chat, message] of cases) {
        const artifact = join(dir.path, name);
        mkdirSync(artifact);
        if (chat) writeFileSync(join(artifact, 'mlc-chat-config.json'), JSON.stringify(chat));
        const r = await runCli('compile-lib', artifact, '--toolchain', join(dir.path, 'no-toolchain'));
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(message);
      }
      // A file that is not a model library is not ours to replace.
      const foreign = join(dir.path, 'notes.wasm');
      writeFileSync(foreign, 'my notes');
      const r = await runCli('compile-lib', join(import.meta.dirname, '../../../models/poetry/q4f32_1'), '--out', foreign, '--toolchain', join(dir.path, 'no-toolchain'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/exists and is not a model library: it is not ours to replace/);
      expect(readFileSync(foreign, 'utf8')).toBe('my notes');
      // Every refusal came before the toolchain: nothing was made or written anywhere.
      expect(existsSync(join(dir.path, 'no-toolchain'))).toBe(false);
      expect(readdirSync(dir.path).sort()).toEqual(['llama', 'none', 'notes.wasm', 'q3', 'shapeless']);
      for (const name of ['llama', 'none', 'q3', 'shapeless']) expect(readdirSync(join(dir.path, name)).filter((f) => f !== 'mlc-chat-config.json')).toEqual([]);
    } finally {
      dir.remove();
    }
  });

  it.skipIf(!toolchainPrerequisites())("compiles Baichuan-7B's shape (q4f16_1) from the artifact's index, and check-lib passes", async () => {
    const dir = tempDir('webchuan-compile-7b-');
    try {
      const artifact = join(dir.path, 'baichuan-7b-q4f16_1');
      writeArtifactIndex(artifact, BAICHUAN_7B, 'q4f16_1');
      const lib = join(dir.path, 'baichuan-7b-q4f16_1.wasm');
      const r = await startCli(['compile-lib', artifact, '--out', lib, '--quick'], undefined, 1_500_000);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stderr).toMatch(/\[compile-lib\].* 32 layers, hidden 4096, vocab 64000, context 4096/);
      expect(r.stdout.trim()).toBe(lib);
      console.log(`[compile-lib] 7B shape: ${(r.ms / 1000).toFixed(0)} s; ${r.stderr.trim().split('\n').at(-1)}`);
      const check = await runCli('check-lib', lib, artifact);
      expect(check.code, check.stderr).toBe(0);
      const tensors = (JSON.parse(readFileSync(join(artifact, 'tensor-cache.json'), 'utf8')) as { records: { records: unknown[] }[] }).records.flatMap((s) => s.records).length;
      expect(tensors).toBe(2 + 32 * 10 + 1 + 2); // embedding, 32 × (4 matrices × 2 + 2 norms), norm, lm_head
      expect(check.stdout).toContain(`(baichuan, q4f16_1) fits ${artifact}: all ${tensors} parameters match`);
    } finally {
      dir.remove();
    }
  }, 1_600_000);
});
