/** Small helpers for creating and reading GPU buffers. */

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** Rounds up to WebGPU's 4-byte copy alignment (f16 tensors of odd length need it). */
export function align4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

/** A storage buffer holding `data` (copied in at creation, no staging round trip). */
export function storageBufferWith(device: GPUDevice, data: ArrayBufferView, label: string): GPUBuffer {
  const size = Math.max(4, align4(data.byteLength));
  const buffer = device.createBuffer({ label, size, usage: STORAGE(), mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** A zero-filled storage buffer of `bytes`. */
export function storageBuffer(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(4, align4(bytes)), usage: STORAGE() });
}

export function uniformBuffer(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(16, align4(bytes)), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
}

export function readbackBuffer(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(4, align4(bytes)), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
}

/** Copies `bytes` of `source` into a fresh mappable buffer and returns them (a test/debug path). */
export async function readBuffer(device: GPUDevice, source: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const staging = readbackBuffer(device, bytes, 'readBuffer');
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(source, offset, staging, 0, align4(bytes));
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return copy;
}
