// Group scales stored as IEEE half floats packed two per u32 (MLC q4f16_1), for weights_q4.wgsl.
// unpack2x16float is core WGSL, so this runs on adapters without the shader-f16 feature.

@group(0) @binding(3) var<storage, read> w_scale: array<u32>;

fn group_scale(i: u32) -> f32 {
  let pair = unpack2x16float(w_scale[i >> 1u]);  // element 2n sits in the low half
  return select(pair.x, pair.y, (i & 1u) == 1u);
}
