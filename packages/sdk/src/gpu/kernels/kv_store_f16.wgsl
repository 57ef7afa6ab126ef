// KV cache stored as half floats, two per u32 (q4f16_1 models): half the memory of float32, which
// is what lets Baichuan-7B keep a 4,096-token cache (2.1 GB instead of 4.3 GB). pack2x16float is
// core WGSL, so no shader-f16 feature is needed. What rope.wgsl writes through.

@group(0) @binding(2) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<u32>;

// Stores elements i and i+1 (i even) as one packed pair.
fn store_k2(i: u32, a: f32, b: f32) {
  k_cache[i >> 1u] = pack2x16float(vec2<f32>(a, b));
}

fn store_v2(i: u32, a: f32, b: f32) {
  v_cache[i >> 1u] = pack2x16float(vec2<f32>(a, b));
}
