// Reading a half-float KV cache (two per u32): what attention.wgsl reads through.

@group(0) @binding(2) var<storage, read> k_cache: array<u32>;
@group(0) @binding(3) var<storage, read> v_cache: array<u32>;

// Elements i and i+1 (i even).
fn load_k2(i: u32) -> vec2<f32> {
  return unpack2x16float(k_cache[i >> 1u]);
}

fn load_v(i: u32) -> f32 {
  let pair = unpack2x16float(v_cache[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}
