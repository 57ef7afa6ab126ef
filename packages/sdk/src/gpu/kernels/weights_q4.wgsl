// Weight access for MLC's 4-bit group quantization (q4f16_1, q4f32_1): 4-bit codes, eight per u32
// (element j in bits 4j..4j+3), one scale per group of 32 along the input dimension;
// w = (q - 7) * scale. Rows are padded to whole groups. A scale format (scales_f16.wgsl or
// scales_f32.wgsl, which provides group_scale) comes before this, and a kernel that calls load_w8 after.

@group(0) @binding(2) var<storage, read> w_q: array<u32>;

override W_WORDS: u32;   // u32 words per row: ceil(cols / 32) * 4
override W_GROUPS: u32;  // scales per row: ceil(cols / 32)

struct W8 { lo: vec4<f32>, hi: vec4<f32> }

// The eight weights of `row` held in its `word`-th u32 (columns 8*word .. 8*word+7).
fn load_w8(row: u32, word: u32) -> W8 {
  let q = w_q[row * W_WORDS + word];
  let s = group_scale(row * W_GROUPS + (word >> 2u));
  let lo = vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - vec4<f32>(7.0);
  let hi = vec4<f32>((vec4<u32>(q) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - vec4<f32>(7.0);
  return W8(lo * s, hi * s);
}
