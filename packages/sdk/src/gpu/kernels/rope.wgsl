// Rotary position embedding in the rotate-half layout (Hugging Face / Baichuan: dimension j pairs
// with j + HEAD_DIM/2), applied to the q and k parts of the fused q|k|v projection; rotated k and the
// v rows are then appended to this layer's KV cache at their positions. cos/sin come from a table
// computed once on the CPU (GPU sin/cos lose accuracy for large angles).
// One thread per (token, head, pair); v heads copy their two elements.

override HEAD_DIM: u32;
override N_HEADS: u32;
override N_KV_HEADS: u32;
override WG: u32 = 64;

struct Step { tokens: u32, start_pos: u32 }

@group(0) @binding(0) var<storage, read> qkv: array<f32>;        // [T, (N_HEADS + 2 N_KV_HEADS) * HEAD_DIM]
@group(0) @binding(1) var<storage, read_write> q_out: array<f32>; // [T, N_HEADS * HEAD_DIM]
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>; // [context, N_KV_HEADS * HEAD_DIM]
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;
@group(0) @binding(5) var<storage, read> cos_table: array<f32>;  // [context, HEAD_DIM / 2]
@group(0) @binding(6) var<storage, read> sin_table: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let half_dim = HEAD_DIM / 2u;
  let heads = N_HEADS + 2u * N_KV_HEADS;
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let t = i / (heads * half_dim);
  if (t >= step.tokens) {
    return;
  }
  let head = (i / half_dim) % heads;
  let j = i % half_dim;
  let pos = step.start_pos + t;
  let src = t * heads * HEAD_DIM + head * HEAD_DIM + j;
  let x1 = qkv[src];
  let x2 = qkv[src + half_dim];
  let kv_width = N_KV_HEADS * HEAD_DIM;
  if (head >= N_HEADS + N_KV_HEADS) {
    let dst = pos * kv_width + (head - N_HEADS - N_KV_HEADS) * HEAD_DIM + j;
    v_cache[dst] = x1;
    v_cache[dst + half_dim] = x2;
    return;
  }
  let c = cos_table[pos * half_dim + j];
  let s = sin_table[pos * half_dim + j];
  let r1 = x1 * c - x2 * s;
  let r2 = x2 * c + x1 * s;
  if (head < N_HEADS) {
    let dst = t * N_HEADS * HEAD_DIM + head * HEAD_DIM + j;
    q_out[dst] = r1;
    q_out[dst + half_dim] = r2;
  } else {
    let dst = pos * kv_width + (head - N_HEADS) * HEAD_DIM + j;
    k_cache[dst] = r1;
    k_cache[dst + half_dim] = r2;
  }
}
