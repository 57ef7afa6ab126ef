// Decode attention split over the keys (flash-decoding): one workgroup per (head, chunk of CHUNK
// keys), so a long context keeps every core of the GPU busy instead of 32 workgroups (one per head)
// walking 4,096 keys each. Each workgroup writes its chunk's partial result — the softmax numerator
// Σ exp(s - m)·v, the chunk's max score m and the sum Σ exp(s - m) — and attention_combine.wgsl
// merges the chunks. The query token sits at position step.start_pos and sees keys 0..start_pos.
// Needs a KV load format (load_k2, load_v) and the step uniform prepended.

override HEAD_DIM: u32;
override N_HEADS: u32;
override N_KV_HEADS: u32;
override WG: u32 = 64;
override CHUNK: u32 = 256;     // keys per workgroup
override MAX_CHUNKS: u32;      // chunks per head in the partials buffer

@group(0) @binding(0) var<storage, read> q: array<f32>;                // [N_HEADS * HEAD_DIM]
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;   // [N_HEADS, MAX_CHUNKS, HEAD_DIM + 2]
// bindings 2 and 3: the K and V caches, [context, N_KV_HEADS * HEAD_DIM], from the KV format.

var<workgroup> q_head: array<f32, HEAD_DIM>;
var<workgroup> scores: array<f32, CHUNK>;
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
  let chunk = wid.y;
  let kv_head = head / (N_HEADS / N_KV_HEADS);
  let kv_width = N_KV_HEADS * HEAD_DIM;
  let n_keys = step.start_pos + 1u;
  let key0 = chunk * CHUNK;
  let count = min(CHUNK, n_keys - min(key0, n_keys));
  for (var d = lid; d < HEAD_DIM; d += WG) {
    q_head[d] = q[head * HEAD_DIM + d];
  }
  workgroupBarrier();
  let scale = 1.0 / sqrt(f32(HEAD_DIM));
  var local_max = NEG_BIG;
  for (var i = lid; i < count; i += WG) {
    let k_base = (key0 + i) * kv_width + kv_head * HEAD_DIM;
    var s = 0.0;
    for (var d = 0u; d < HEAD_DIM; d += 2u) {
      let k2 = load_k2(k_base + d);
      s += q_head[d] * k2.x + q_head[d + 1u] * k2.y;
    }
    s *= scale;
    scores[i] = s;
    local_max = max(local_max, s);
  }
  let m = reduce_max(lid, local_max);
  var local_sum = 0.0;
  for (var i = lid; i < count; i += WG) {
    let p = exp(scores[i] - m);
    scores[i] = p;
    local_sum += p;
  }
  let l = reduce_sum(lid, local_sum);  // its barriers also publish the probabilities
  let base = (head * MAX_CHUNKS + chunk) * (HEAD_DIM + 2u);
  for (var d = lid; d < HEAD_DIM; d += WG) {
    var a = 0.0;
    for (var i = 0u; i < count; i++) {
      a += scores[i] * load_v((key0 + i) * kv_width + kv_head * HEAD_DIM + d);
    }
    partials[base + d] = a;
  }
  if (lid == 0u) {
    partials[base + HEAD_DIM] = m;
    partials[base + HEAD_DIM + 1u] = l;
  }
}
