import { defineConfig } from 'vite';

// COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so the CPU path (llama.cpp in
// WebAssembly) runs on several threads. A static host sends the same two headers (see the README).
const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

// base './': the built dist/ works from any path on any static host.
export default defineConfig({
  base: './',
  build: { target: 'es2022' },
  worker: { format: 'es' },
  server: { headers: isolated },
  preview: { headers: isolated },
});
