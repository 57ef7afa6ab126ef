// Group scales stored as float32 (MLC q4f32_1), for weights_q4.wgsl.

@group(0) @binding(3) var<storage, read> w_scale: array<f32>;

fn group_scale(i: u32) -> f32 {
  return w_scale[i];
}
