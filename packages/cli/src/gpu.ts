/**
 * WebGPU in Node through Dawn (the npm package `webgpu`). A real GPU's Vulkan driver is used when
 * there is one; otherwise we fall back to SwiftShader, the CPU Vulkan that ships with Chromium.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';

const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];

let installed = false;
/** Dawn instances must outlive their adapters and devices: collecting one crashes the process. */
const instances: GPU[] = [];

function newInstance(): GPU {
  const gpu = create([]);
  instances.push(gpu);
  return gpu;
}

/** Puts GPUBufferUsage, GPUMapMode… on globalThis, as a browser has them. */
function installGlobals(): void {
  if (!installed) {
    Object.assign(globalThis, globals);
    installed = true;
  }
}

/** An adapter from the machine's GPU, or SwiftShader when there is none. Throws if neither exists. */
export async function nodeAdapter(): Promise<GPUAdapter> {
  installGlobals();
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  const hasGpuDevice = ['/dev/dri', '/dev/nvidia0', '/dev/dxg'].some((p) => existsSync(p));
  if (!hasGpuDevice && icd && !process.env['VK_ICD_FILENAMES']) useSwiftShader(icd);
  const first = await newInstance().requestAdapter({ powerPreference: 'high-performance' });
  if (first) return first;
  if (icd && process.env['VK_ICD_FILENAMES'] !== icd) {
    useSwiftShader(icd);
    const fallback = await newInstance().requestAdapter();
    if (fallback) return fallback;
  }
  throw new Error(
    'No WebGPU adapter: no Vulkan GPU driver was found, and SwiftShader is missing ' +
      '(install it with `apt-get install -y chromium libvulkan1`).',
  );
}

function useSwiftShader(icd: string): void {
  process.env['VK_ICD_FILENAMES'] = icd;
  // SwiftShader's window-system probe complains without a runtime dir; compute needs none. A private
  // empty one, not /tmp itself: the probe looks for display sockets there, which anyone can plant in /tmp.
  process.env['XDG_RUNTIME_DIR'] ??= privateRuntimeDir();
}

/**
 * A folder only this user can write: ~/.cache/webchuan/runtime (made 0700, reused by every run, so
 * nothing piles up), or where the home folder cannot hold it, a fresh mkdtemp folder removed at exit.
 */
function privateRuntimeDir(): string {
  const dir = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'webchuan', 'runtime');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0) return dir;
  } catch {
    // no writable home: below
  }
  const fresh = mkdtempSync(join(tmpdir(), 'webchuan-runtime-'));
  process.on('exit', () => rmSync(fresh, { recursive: true, force: true }));
  return fresh;
}
