/**
 * Model libraries for tests: a small, valid wasm module carrying mlc_llm's metadata JSON in a data
 * segment, the way mlc_llm embeds it (no compiled kernels: only what webchuan reads).
 */
import type { ModelLibMetadata } from '../../sdk/src/model/model-lib.js';

/** Unsigned LEB128, as the wasm binary format writes sizes. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A valid wasm module with one memory and one active data segment holding `data` at address 1024. */
export function wasmWithData(data: Uint8Array): Uint8Array {
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const pages = Math.ceil((1024 + data.length) / 65536);
  const memory = section(5, [1, 0x00, ...leb(pages)]);
  const segment = [0x00, 0x41, ...leb(1024), 0x0b, ...leb(data.length), ...data]; // i32.const 1024 is positive and < 2^13, so its signed LEB equals the unsigned one
  const dataSection = section(11, [1, ...segment]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...memory, ...dataSection]);
}

/** A library of ours that declares `meta`, surrounded by other strings as a real data segment is. */
export function fakeLib(meta: ModelLibMetadata | Record<string, unknown>): Uint8Array {
  const text = `\u0000runtime strings {"not":"it"}\u0000${JSON.stringify(meta)}\u0000more strings\u0000`;
  return wasmWithData(new TextEncoder().encode(text));
}
