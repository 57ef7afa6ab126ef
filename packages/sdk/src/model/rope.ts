/**
 * Rotary embedding angles, as the float32 tables that PyTorch (`inv_freq`, `t * inv_freq`) and
 * llama2.c (`powf`, `pos * freq`) both compute: every intermediate rounded to float32, then cos/sin of
 * that float32 angle. The GPU reads these tables rather than calling sin/cos, whose accuracy on GPUs
 * is only guaranteed near zero while angles here reach thousands of radians.
 */
export interface RopeTables {
  /** [positions, headDim / 2] */
  cos: Float32Array;
  sin: Float32Array;
}

export function ropeTables(headDim: number, theta: number, positions: number): RopeTables {
  const half = headDim / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  const f = Math.fround;
  for (let j = 0; j < half; j++) {
    const invFreq = f(1 / f(Math.pow(theta, f(f(2 * j) / headDim))));
    for (let p = 0; p < positions; p++) {
      const angle = f(p * invFreq);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
