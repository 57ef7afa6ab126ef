/**
 * The test lanes (vitest projects), each named for what its GPU tests run on:
 *
 * - `swiftshader`: every test but the two lanes below; Node GPU tests on Dawn with the machine's GPU,
 *   else SwiftShader, and the Chromium browser tests (Chromium's SwiftShader: there is no other here).
 * - `lavapipe`: a chosen few tests on Dawn with Mesa ≥ 25's lavapipe (WEBCHUAN_GPU), which offers
 *   shader-f16 and subgroups — so the f16 kernels run, and a test needing them fails rather than
 *   skips there (WEBCHUAN_GPU_FEATURES) — and 128 MiB bindings, as on many phones.
 * - `firefox`: Firefox ESR with WebGPU (its own wgpu, naga and Vulkan driver).
 *
 * Without lavapipe installed, its lane is left out with a notice (under CI=true it stays, and fails).
 */
import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

/**
 * The lavapipe lane is deliberately small. lavapipe compiles each pipeline with LLVM at its first
 * dispatch: 0.2–1.4 s of CPU per kernel even 4-wide (SwiftShader: 0.04–1.5 s), and CI starts with an
 * empty shader cache, so the whole kernel suite there costs minutes of compiling (kernels.test.ts cold:
 * 129 s CPU, 574 s wall on the shared 2-core machine). It runs what only it can show:
 * - every kernel variant the engine can assemble, f16 and subgroup ones included, validated against
 *   WebGPU's default limits (kernel-limits.test.ts; Dawn validates at pipeline creation, before LLVM);
 * - the f16 arithmetic (matvec_subgroup with shader-f16) against its CPU twin, and the q4f16 decode
 *   kernels and embedding, whole and over bands of rows, against theirs (kernels.test.ts, by name);
 * - a q4f16_1 model held in bands under a lowered binding limit, decoding in f16 (random-model.test.ts);
 * - the seed prompt on q4f16_1 through the CLI (gpu-adapter.test.ts, in the swiftshader lane: it
 *   starts the CLI with --gpu lavapipe itself).
 */
const LAVAPIPE_ONLY = ['packages/sdk/test/kernel-limits.test.ts'];
const LAVAPIPE_ALSO = ['packages/sdk/test/kernels.test.ts', 'packages/cli/test/random-model.test.ts'];
const LAVAPIPE_TESTS = new RegExp([
  // kernel-limits.test.ts: all of it
  "^every kernel variant within WebGPU's default limits ",
  '^the list is what the engine assembles ',
  // kernels.test.ts
  '^f16 arithmetic ',
  '^q4f16 weights (matvec|matvec_subgroup \\{"arithmetic":"f32"\\}) ',
  '^q4f16 weights embedding looks up and dequantizes rows, from a table split into bands',
  '^layer kernels (rmsnorm|argmax)',
  // random-model.test.ts
  '^held in bands of rows, .*\\(q4f16_1\\) ',
].join('|'));
const FIREFOX = ['packages/*/test/**/firefox*.test.ts', 'e2e/firefox*.test.ts'];

const lavapipe = existsSync(LAVAPIPE_ICD) || process.env['CI'] === 'true';
if (!lavapipe) console.warn(`[skip] ${LAVAPIPE_ICD} is absent (apt-get install -t bookworm-backports mesa-vulkan-drivers): the lavapipe lane is skipped`);

const lavapipeLane = {
  extends: true as const,
  test: {
    name: 'lavapipe',
    include: [...LAVAPIPE_ONLY, ...LAVAPIPE_ALSO],
    // vitest 4.1's types call testNamePattern a root option, but a project's own applies to its files
    // (the lane prints "N tests of these files left out by name": if that ever stops, the
    // count shows it).
    testNamePattern: LAVAPIPE_TESTS,
    env: {
      WEBCHUAN_GPU: 'lavapipe',
      WEBCHUAN_GPU_FEATURES: 'shader-f16,subgroups',
      // lavapipe compiles each pipeline with LLVM at its first dispatch, seconds of CPU for the bigger
      // kernels (SwiftShader: tenths); 4-wide instead of 8-wide SIMD cuts that about 3× and runs the
      // kernels about as fast.
      LP_NATIVE_VECTOR_WIDTH: '128',
    },
  },
};

export default defineConfig({
  test: {
    // GPU tests share one device per file; running files in parallel only fights over 2 cores.
    fileParallelism: false,
    globalSetup: ['./vitest.global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './vitest.lanes.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'swiftshader',
          include: ['packages/*/test/**/*.test.ts', 'e2e/**/*.test.ts'],
          exclude: [...(lavapipe ? LAVAPIPE_ONLY : []), ...FIREFOX, '**/node_modules/**'],
        },
      },
      ...(lavapipe ? [lavapipeLane] : []),
      { extends: true, test: { name: 'firefox', include: FIREFOX } },
    ],
  },
});
