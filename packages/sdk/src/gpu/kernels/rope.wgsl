// Rotary position embedding in the rotate-half layout (Hugging Face / Baichuan: dimension j pairs
// with j + HEAD_DIM/2), applied to the q and k parts of the fused q|k|v projection; rotated k and the
// v rows are then appended to this layer's KV cache at their positions. cos/sin come from a table
// computed once on the CPU (GPU sin/cos lose accuracy for large angles).
// One thread per (token, head, two adjacent pairs): it writes dimensions j, j+1, j+half, j+half+1,
// so a KV format that packs two values per word (kv_store_f16.wgsl) never shares a word between
// threads. Needs a KV store format prepended (store_k2, store_v2). HEAD_DIM must be a multiple of 4.

override HEAD_DIM: u32;
override N_HEADS: u32;
override N_KV_HEADS: u32;
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;        // [T, (N_HEADS + 2 N_KV_HEADS) * HEAD_DIM]
@group(0) @binding(1) var<storage, read_write> q_out: array<f32>; // [T, N_HEADS * HEAD_DIM]
@group(0) @binding(5) var<storage, read> cos_table: array<f32>;  // [context, HEAD_DIM / 2]
@group(0) @binding(6) var<storage, read> sin_table: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let half_dim = HEAD_DIM / 2u;
  let quarter = HEAD_DIM / 4u;
  let heads = N_HEADS + 2u * N_KV_HEADS;
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let t = i / (heads * quarter);
  if (t >= step.tokens) {
    return;
  }
  let head = (i / quarter) % heads;
  let j = (i % quarter) * 2u;
  let pos = step.start_pos + t;
  let src = t * heads * HEAD_DIM + head * HEAD_DIM + j;
  let a1 = qkv[src];
  let b1 = qkv[src + 1u];
  let a2 = qkv[src + half_dim];
  let b2 = qkv[src + half_dim + 1u];
  let kv_width = N_KV_HEADS * HEAD_DIM;
  if (head >= N_HEADS + N_KV_HEADS) {
    let dst = pos * kv_width + (head - N_HEADS - N_KV_HEADS) * HEAD_DIM + j;
    store_v2(dst, a1, b1);
    store_v2(dst + half_dim, a2, b2);
    return;
  }
  let c0 = cos_table[pos * half_dim + j];
  let s0 = sin_table[pos * half_dim + j];
  let c1 = cos_table[pos * half_dim + j + 1u];
  let s1 = sin_table[pos * half_dim + j + 1u];
  let ra1 = a1 * c0 - a2 * s0;
  let ra2 = a2 * c0 + a1 * s0;
  let rb1 = b1 * c1 - b2 * s1;
  let rb2 = b2 * c1 + b1 * s1;
  if (head < N_HEADS) {
    let dst = t * N_HEADS * HEAD_DIM + head * HEAD_DIM + j;
    q_out[dst] = ra1;
    q_out[dst + 1u] = rb1;
    q_out[dst + half_dim] = ra2;
    q_out[dst + half_dim + 1u] = rb2;
  } else {
    let dst = pos * kv_width + (head - N_HEADS) * HEAD_DIM + j;
    store_k2(dst, ra1, rb1);
    store_k2(dst + half_dim, ra2, rb2);
  }
}
