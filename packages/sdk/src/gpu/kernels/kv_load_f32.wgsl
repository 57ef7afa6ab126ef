// Reading a float32 KV cache: what attention.wgsl reads through.

@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;

// Elements i and i+1 (i even).
fn load_k2(i: u32) -> vec2<f32> {
  return vec2<f32>(k_cache[i], k_cache[i + 1u]);
}

fn load_v(i: u32) -> f32 {
  return v_cache[i];
}
