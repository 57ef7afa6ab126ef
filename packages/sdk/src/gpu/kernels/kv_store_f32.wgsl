// KV cache stored as float32 (q0f32 and q4f32_1 models): what rope.wgsl writes through.

@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;

// Stores elements i and i+1 (i even).
fn store_k2(i: u32, a: f32, b: f32) {
  k_cache[i] = a;
  k_cache[i + 1u] = b;
}

fn store_v2(i: u32, a: f32, b: f32) {
  v_cache[i] = a;
  v_cache[i + 1u] = b;
}
