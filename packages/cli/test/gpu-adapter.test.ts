/**
 * Honest adapters: `webchuan` runs on the Vulkan driver it is asked for (`--gpu`, WEBCHUAN_GPU,
 * VK_ICD_FILENAMES) and says which on stderr before its work; a driver that gives no adapter ends the
 * command with an error naming it, and nothing runs on another driver instead.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../../sdk/test/helpers.js';
import { BIN, type CliResult } from './cli-run.js';

const dir = tempDir('webchuan-gpu-');
afterAll(() => dir.remove());

/** A Vulkan ICD file naming a driver library that does not exist: a driver that cannot be had. */
const broken = join(dir.path, 'broken_icd.json');
writeFileSync(broken, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(dir.path, 'libvulkan_missing.so'), api_version: '1.3.0' } }));

const generateOn = (quant: string) => ['generate', '--model', join(REPO_ROOT, 'models/poetry', quant), '--prompt', '登鹳雀楼->王之涣\n夜雨寄北->', '--max-tokens', '3'];
const generate = generateOn('q4f32_1');

function run(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WEBCHUAN_GPU: undefined, VK_ICD_FILENAMES: undefined, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started })));
}

describe('a GPU driver asked for', () => {
  it.each([
    ['--gpu <icd.json>', ['--gpu', broken], {}],
    ['WEBCHUAN_GPU=<icd.json>', [], { WEBCHUAN_GPU: broken }],
    ['VK_ICD_FILENAMES=<icd.json>', [], { VK_ICD_FILENAMES: broken }],
  ] as const)('that gives no adapter (%s) ends the command with an error naming it, and nothing runs elsewhere', async (_, flags, env) => {
    const r = await run([...generate, ...flags], env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/was asked for, but it gives no WebGPU adapter/);
    expect(r.stderr).toContain(broken);
    expect(r.stderr).not.toContain('webchuan: GPU:');
    expect(r.stdout).toBe('');
  });

  it('by a name that is no driver is refused', async () => {
    const r = await run([...generate, '--gpu', 'radeon']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unknown GPU driver "radeon": give swiftshader, lavapipe or the path of a Vulkan ICD \.json file/);
  });

  // Each named driver, where it is installed (under CI=true both must be). On lavapipe the seed prompt
  // runs on q4f16_1, whose decode there is in half precision (shader-f16): the f16 path in CI.
  const drivers = [
    { name: 'swiftshader', quant: 'q4f32_1', icd: '/usr/lib/chromium/vk_swiftshader_icd.json', adapter: /^webchuan: GPU: SwiftShader.*\[google swiftshader, fallback\] · no shader-f16, subgroups \(4\)/m, env: {} },
    // 4-wide SIMD: lavapipe compiles shaders about twice as fast (see vite.config.ts).
    { name: 'lavapipe', quant: 'q4f16_1', icd: '/usr/share/vulkan/icd.d/lvp_icd.json', adapter: /^webchuan: GPU: llvmpipe.*\[mesa software, fallback\] · shader-f16, subgroups \(\d+\)/m, env: { LP_NATIVE_VECTOR_WIDTH: '128' } },
  ];
  for (const d of drivers) {
    const present = existsSync(d.icd);
    if (!present && process.env['CI'] === 'true') throw new Error(`CI=true but ${d.icd} is missing`);
    if (!present) console.warn(`[skip] ${d.icd} is absent: the ${d.name} case is skipped`);
    it.skipIf(!present)(`runs on ${d.name} when asked (${d.quant}), says so before its output, and completes the seed prompt with 李商隐`, { timeout: 600_000 }, async () => {
      const r = await run([...generateOn(d.quant), '--gpu', d.name], d.env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(d.adapter);
      expect(r.stdout.startsWith('李商隐')).toBe(true);
      console.log(r.stderr.split('\n').find((l) => l.startsWith('webchuan: GPU:')));
    });
  }
});
