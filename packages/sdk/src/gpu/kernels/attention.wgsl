// Causal scaled dot-product attention over the KV cache, for decode (one token) and prefill (many).
// One workgroup per (query token, head). Keys are visited in tiles of WG with an online softmax
// (running max and sum), so no score buffer of context length is needed. Grouped-query attention:
// head h reads KV head h / (N_HEADS / N_KV_HEADS). Needs a KV load format prepended (load_k2, load_v).

override HEAD_DIM: u32;
override N_HEADS: u32;
override N_KV_HEADS: u32;
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> q: array<f32>;            // [T, N_HEADS * HEAD_DIM]
@group(0) @binding(1) var<storage, read_write> out: array<f32>;    // [T, N_HEADS * HEAD_DIM]
// bindings 2 and 3: the K and V caches, [context, N_KV_HEADS * HEAD_DIM], from the KV format.

var<workgroup> q_head: array<f32, HEAD_DIM>;
var<workgroup> acc: array<f32, HEAD_DIM>;
var<workgroup> probs: array<f32, WG>;
var<workgroup> red: array<f32, WG>;

const NEG_BIG: f32 = -3.0e38;

fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red[lid] = max(red[lid], red[lid + stride]);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red[lid] += red[lid + stride];
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let t = wid.y;
  let kv_head = head / (N_HEADS / N_KV_HEADS);
  let kv_width = N_KV_HEADS * HEAD_DIM;
  let q_base = t * N_HEADS * HEAD_DIM + head * HEAD_DIM;
  for (var d = lid; d < HEAD_DIM; d += WG) {
    q_head[d] = q[q_base + d];
    acc[d] = 0.0;
  }
  workgroupBarrier();
  let scale = 1.0 / sqrt(f32(HEAD_DIM));
  let n_keys = step.start_pos + t + 1u;  // causal: this token sees itself and everything before
  var running_max = NEG_BIG;
  var running_sum = 0.0;
  for (var tile = 0u; tile < n_keys; tile += WG) {
    let key = tile + lid;
    var score = NEG_BIG;
    if (key < n_keys) {
      let k_base = key * kv_width + kv_head * HEAD_DIM;
      var s = 0.0;
      for (var d = 0u; d < HEAD_DIM; d += 2u) {
        let k2 = load_k2(k_base + d);
        s += q_head[d] * k2.x + q_head[d + 1u] * k2.y;
      }
      score = s * scale;
    }
    let new_max = max(running_max, reduce_max(lid, score));
    let p = select(0.0, exp(score - new_max), key < n_keys);
    probs[lid] = p;
    let tile_sum = reduce_sum(lid, p);  // its barriers also publish probs
    let correction = exp(running_max - new_max);
    running_sum = running_sum * correction + tile_sum;
    let count = min(WG, n_keys - tile);
    for (var d = lid; d < HEAD_DIM; d += WG) {
      var a = acc[d] * correction;
      for (var i = 0u; i < count; i++) {
        a += probs[i] * load_v((tile + i) * kv_width + kv_head * HEAD_DIM + d);
      }
      acc[d] = a;
    }
    running_max = new_max;
    workgroupBarrier();
  }
  for (var d = lid; d < HEAD_DIM; d += WG) {
    out[q_base + d] = acc[d] / running_sum;
  }
}
