// Float32 weights (q0f32) read 32 columns at a time, in the same shape as weights_q4_groups.wgsl so
// one kernel serves both: eight vec4<f32> loads per group. Rows must hold a multiple of 4 columns
// (every real model's do); the last group of a row may be partial and reads as zeros past its end.
// Needs `alias F = f32;` before it.

@group(0) @binding(2) var<storage, read> w_f: array<vec4<f32>>;

override W_GROUPS: u32;  // ceil(cols / 32)
override W_COLS: u32;    // cols, a multiple of 4

fn group_values(row: u32, g: u32) -> array<vec4<f32>, 8> {
  let quads = W_COLS / 4u;
  let base = row * quads;
  var v: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) {
    let j = g * 8u + i;
    v[i] = select(vec4<f32>(0.0), w_f[base + min(j, quads - 1u)], j < quads);
  }
  return v;
}

fn group_dot(row: u32, g: u32, xg: array<vec4<F>, 8>) -> f32 {
  let w = group_values(row, g);
  var s = 0.0;
  for (var i = 0u; i < 8u; i++) {
    s += dot(w[i], vec4<f32>(xg[i]));
  }
  return s;
}
