/**
 * WebGPU in Node through Dawn (the npm package `webgpu`), on a Vulkan driver chosen as follows:
 *
 * - asked for by name or file — `WEBCHUAN_GPU=swiftshader | lavapipe | <path to an ICD .json>` (the
 *   CLI's `--gpu`), or `VK_ICD_FILENAMES` set by the caller: that driver, or an error saying why it
 *   cannot be had. Never another driver instead: a test or benchmark must know what it ran on.
 * - otherwise: the machine's GPU when it has one (/dev/dri, /dev/nvidia0, /dev/dxg), else SwiftShader,
 *   the CPU Vulkan that ships with Chromium. A GPU whose drivers give no adapter falls back to
 *   SwiftShader with a notice on stderr.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { deviceLine } from '../../sdk/src/gpu/adapter-info.js';

const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];
/** Mesa's lavapipe (Debian's mesa-vulkan-drivers); Dawn needs Mesa ≥ 25 (bookworm-backports on Debian 12). */
const LAVAPIPE_ICDS = ['/usr/share/vulkan/icd.d/lvp_icd.json'];

/** A driver asked for by name, how to recognise its adapter, and how to install it. */
const NAMED_DRIVERS = {
  swiftshader: { icds: SWIFTSHADER_ICDS, matches: /swiftshader/i, install: 'apt-get install -y chromium libvulkan1' },
  lavapipe: {
    icds: LAVAPIPE_ICDS,
    matches: /llvmpipe|lavapipe/i,
    install: 'apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1 (Dawn refuses Mesa before 25)',
  },
} as const;
export type NamedDriver = keyof typeof NAMED_DRIVERS;

/** No adapter could be had from the driver that was asked for (or from any, when none was). */
export class GpuAdapterError extends Error {
  override name = 'GpuAdapterError';
}

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

export interface NodeAdapterOptions {
  /** `swiftshader`, `lavapipe` or the path of a Vulkan ICD file; default: $WEBCHUAN_GPU. */
  driver?: string;
}

/** The driver asked for, if any: an option, $WEBCHUAN_GPU, or a caller's own $VK_ICD_FILENAMES. */
function askedFor(options: NodeAdapterOptions): { what: string; icd: string; matches?: RegExp } | undefined {
  const driver = options.driver ?? process.env['WEBCHUAN_GPU'];
  if (driver) {
    const named = NAMED_DRIVERS[driver as NamedDriver] as (typeof NAMED_DRIVERS)[NamedDriver] | undefined;
    if (named) {
      const icd = named.icds.find((p) => existsSync(p));
      if (!icd) throw new GpuAdapterError(`The GPU driver "${driver}" was asked for, but it is not installed (${named.icds.join(' or ')} is missing): ${named.install}.`);
      return { what: driver, icd, matches: named.matches };
    }
    if (!driver.endsWith('.json')) throw new GpuAdapterError(`Unknown GPU driver "${driver}": give swiftshader, lavapipe or the path of a Vulkan ICD .json file.`);
    if (!existsSync(driver)) throw new GpuAdapterError(`The Vulkan driver file ${driver} was asked for, but it does not exist.`);
    return { what: driver, icd: driver };
  }
  const env = process.env['VK_ICD_FILENAMES'];
  return env ? { what: `VK_ICD_FILENAMES=${env}`, icd: env } : undefined;
}

function useIcd(icd: string): void {
  process.env['VK_ICD_FILENAMES'] = icd;
  // Software Vulkans probe a window system that wants a runtime dir; compute needs none. A private
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

/** An adapter on the driver asked for, else the machine's GPU, else SwiftShader (see the module's comment). */
export async function nodeAdapter(options: NodeAdapterOptions = {}): Promise<GPUAdapter> {
  installGlobals();
  const asked = askedFor(options);
  if (asked) {
    // The Vulkan loader reads VK_ICD_FILENAMES when Dawn creates its instance: only this driver is seen.
    useIcd(asked.icd);
    const adapter = await newInstance().requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new GpuAdapterError(
        `The GPU driver ${asked.what} was asked for, but it gives no WebGPU adapter: Dawn could not load it or refused it ` +
          '(its reason, if any, is printed above; lavapipe needs Mesa ≥ 25). Nothing falls back to another driver.',
      );
    }
    const name = `${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}`;
    if (asked.matches && !asked.matches.test(name)) throw new GpuAdapterError(`The GPU driver ${asked.what} was asked for, but the adapter found is "${name}".`);
    return adapter;
  }
  const swiftshader = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  const hasGpuDevice = ['/dev/dri', '/dev/nvidia0', '/dev/dxg'].some((p) => existsSync(p));
  if (hasGpuDevice) {
    const adapter = await newInstance().requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return adapter;
    if (swiftshader) process.stderr.write('webchuan: this machine has a GPU, but its Vulkan drivers give no WebGPU adapter: using SwiftShader (a CPU emulation).\n');
  }
  if (!swiftshader) {
    throw new GpuAdapterError(
      'No WebGPU adapter: no Vulkan GPU driver was found, and SwiftShader is missing (install it with `apt-get install -y chromium libvulkan1`).',
    );
  }
  useIcd(swiftshader);
  const adapter = await newInstance().requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new GpuAdapterError(`SwiftShader (${swiftshader}) gives no WebGPU adapter.`);
  return adapter;
}

const announced = new Set<string>();

/**
 * Says on stderr (stdout carries results) which adapter and features a device runs on, once per
 * process and adapter: every command that uses the GPU, and every test and script that loads a model
 * through loadNodeModel, so no figure is ever without its driver.
 */
export function announceDevice(device: GPUDevice): void {
  const line = deviceLine(device);
  if (announced.has(line)) return;
  announced.add(line);
  process.stderr.write(`webchuan: GPU: ${line}\n`);
}
