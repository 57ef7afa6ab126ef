import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../src/model/half.js';
import { dequantizeQ4, groupsPerRow, GROUP_SIZE, MAX_INT, q4Code, quantizeQ4, wordsPerRow } from '../src/model/quant.js';
import { mulberry32 } from '../src/model/random.js';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  // Mix scales per row so groups see both tiny and large magnitudes.
  return Float32Array.from({ length: rows * cols }, (_, i) => (next() * 2 - 1) * 10 ** (Math.floor(i / cols) % 4 - 2));
}

describe('4-bit group quantization', () => {
  for (const scaleDtype of ['float32', 'float16'] as const) {
    for (const [rows, cols] of [[3, 64], [5, 172], [2, 31], [1, 4096]] as const) {
      it(`round-trips ${rows}×${cols} within scale/2 (${scaleDtype} scales)`, () => {
        const w = randomMatrix(rows, cols, rows * 1000 + cols);
        const q = quantizeQ4(w, rows, cols, scaleDtype);
        expect(q.qWeight.length).toBe(rows * wordsPerRow(cols));
        expect(q.scales.length).toBe(rows * groupsPerRow(cols));
        const back = dequantizeQ4(q);
        for (let r = 0; r < rows; r++) {
          for (let k = 0; k < cols; k++) {
            const scale = q.scales[r * groupsPerRow(cols) + Math.floor(k / GROUP_SIZE)]!;
            const code = q4Code(q, r, k);
            expect(code).toBeGreaterThanOrEqual(0);
            expect(code).toBeLessThanOrEqual(2 * MAX_INT);
            expect(Math.abs(back[r * cols + k]! - w[r * cols + k]!)).toBeLessThanOrEqual(scale / 2 + 1e-7 * Math.abs(w[r * cols + k]!));
          }
        }
      });
    }
  }

  it('stores scale = max|w|/7 and codes q = round(w/scale) + 7, eight per word, low nibble first', () => {
    const w = new Float32Array(32);
    w[0] = 7;
    w[1] = -7;
    w[2] = 3.4; // rounds to 3
    w[9] = 1;
    const q = quantizeQ4(w, 1, 32, 'float32');
    expect(q.scales[0]).toBe(1);
    expect(q.qWeight[0]! & 0xf).toBe(14);
    expect((q.qWeight[0]! >>> 4) & 0xf).toBe(0);
    expect((q.qWeight[0]! >>> 8) & 0xf).toBe(10);
    expect((q.qWeight[1]! >>> 4) & 0xf).toBe(8);
    expect((q.qWeight[0]! >>> 12) & 0xf).toBe(7);
  });

  it('pads a partial last group with codes that dequantize to exactly zero', () => {
    const q = quantizeQ4(Float32Array.from({ length: 40 }, (_, i) => i + 1), 1, 40, 'float32');
    for (let k = 40; k < 64; k++) expect(q4Code(q, 0, k)).toBe(MAX_INT);
  });
});

describe('half-precision conversions', () => {
  it('converts f16 exactly for representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 0.1]) {
      const back = f16BitsToF32(f32ToF16Bits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11);
    }
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even mantissa
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16BitsToF32(f32ToF16Bits(1e6))).toBe(Infinity);
  });

  it('converts bf16 as the upper half of float32, rounding to nearest even', () => {
    expect(bf16BitsToF32(f32ToBf16Bits(1.5))).toBe(1.5);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });
});
