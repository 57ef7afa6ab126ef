// 4-bit weights (q4f16_1, q4f32_1) read a whole quantization group at a time: one vec4<u32> load is
// 32 codes, one group, 16 bytes — the widest load WGSL has, which is what a bandwidth-bound kernel
// wants per thread. Element 8w + j of a group sits in word w, bits 4j..4j+3; w = (q - 7) · scale.
// Needs before it: a scale format (group_scale) and `alias F` (the arithmetic type, f32 or f16).

@group(0) @binding(2) var<storage, read> w_q: array<vec4<u32>>;

override W_GROUPS: u32;  // groups per row: ceil(cols / 32)

// Codes 0..3 (lo) or 4..7 (hi) of a word, minus the zero point 7: exact in f32 and f16 alike.
fn codes_lo(w: u32) -> vec4<F> {
  return vec4<F>((vec4<u32>(w) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - vec4<F>(7.0);
}

fn codes_hi(w: u32) -> vec4<F> {
  return vec4<F>((vec4<u32>(w) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - vec4<F>(7.0);
}

// Σ over group g of row: W[row, 32g + i] · xg[i / 4][i % 4]. Each four-term dot runs in F (the f16
// path multiplies and adds four terms in half precision), the eight dots add up in f32, and the
// scale multiplies once per group.
fn group_dot(row: u32, g: u32, xg: array<vec4<F>, 8>) -> f32 {
  let q = w_q[row * W_GROUPS + g];
  let s = f32(dot(codes_lo(q.x), xg[0])) + f32(dot(codes_hi(q.x), xg[1]))
        + f32(dot(codes_lo(q.y), xg[2])) + f32(dot(codes_hi(q.y), xg[3]))
        + f32(dot(codes_lo(q.z), xg[4])) + f32(dot(codes_hi(q.z), xg[5]))
        + f32(dot(codes_lo(q.w), xg[6])) + f32(dot(codes_hi(q.w), xg[7]));
  return s * group_scale(row * W_GROUPS + g);
}

// The 32 dequantized weights of group g of row, in f32 (for kernels that stage weights in
// workgroup memory).
fn group_values(row: u32, g: u32) -> array<vec4<f32>, 8> {
  let q = w_q[row * W_GROUPS + g];
  let s = group_scale(row * W_GROUPS + g);
  return array<vec4<f32>, 8>(
    vec4<f32>(codes_lo(q.x)) * s, vec4<f32>(codes_hi(q.x)) * s,
    vec4<f32>(codes_lo(q.y)) * s, vec4<f32>(codes_hi(q.y)) * s,
    vec4<f32>(codes_lo(q.z)) * s, vec4<f32>(codes_hi(q.z)) * s,
    vec4<f32>(codes_lo(q.w)) * s, vec4<f32>(codes_hi(q.w)) * s);
}
