import { defineConfig } from 'vite';

// COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so the CPU path (llama.cpp in
// WebAssembly) runs on several threads. A static host sends the same two headers (see the README).
const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

// WebLLM is resolved from this package (0.2.85, the version whose runtime loads libraries that
// `webchuan compile-lib` builds with TVM 0.27), not from the SDK's folder, which holds 0.2.79 for
// MLC's older prebuilt libraries: "Compare engines" runs a library compiled for the demo's own model.
// base './': the built dist/ works from any path on any static host.
export default defineConfig({
  base: './',
  build: { target: 'es2022' },
  resolve: { dedupe: ['@mlc-ai/web-llm'] },
  worker: { format: 'es' },
  server: { headers: isolated },
  preview: { headers: isolated },
});
