// Weight access for MLC q4f16_1: as q4f32_1, but scales are IEEE half floats packed two per u32.
// unpack2x16float is core WGSL, so this runs on adapters without the shader-f16 feature.
// Prepended to a kernel that calls load_w8.

@group(0) @binding(2) var<storage, read> w_q: array<u32>;
@group(0) @binding(3) var<storage, read> w_scale: array<u32>;

override W_WORDS: u32;   // u32 words per row: ceil(cols / 32) * 4
override W_GROUPS: u32;  // scales per row: ceil(cols / 32)

struct W8 { lo: vec4<f32>, hi: vec4<f32> }

fn group_scale(row: u32, group: u32) -> f32 {
  let i = row * W_GROUPS + group;
  let pair = unpack2x16float(w_scale[i >> 1u]);  // element 2n sits in the low half
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

// The eight weights of `row` held in its `word`-th u32 (columns 8*word .. 8*word+7).
fn load_w8(row: u32, word: u32) -> W8 {
  let q = w_q[row * W_WORDS + word];
  let s = group_scale(row, word >> 2u);
  let lo = vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - vec4<f32>(7.0);
  let hi = vec4<f32>((vec4<u32>(q) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - vec4<f32>(7.0);
  return W8(lo * s, hi * s);
}
