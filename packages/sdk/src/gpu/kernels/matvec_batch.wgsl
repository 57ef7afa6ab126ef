// Y[t, n] (+)= sum_k X[t, k] * W[n, k] for a few tokens (2 to 8): short prefills such as a chat turn
// after KV-cache reuse or an autocomplete prompt. Like matvec, each weight word is read once and
// used for every token, so a short prefill costs about one decode step of weight traffic instead of
// a 32-token tile of mostly padding (the same split llama.cpp makes below 9 tokens).
// Each workgroup computes ROWS rows for all tokens, with one barrier.
// Needs a weight format (weights_*.wgsl) prepended: it provides load_w8 and W_WORDS.

override K: u32;
override N: u32;
override Y_STRIDE: u32;       // y's row stride: all the matrix's rows (N counts this band's, when it is split)
override ACCUMULATE: bool = false;
override WG: u32 = 64;
// ROWS (rows per workgroup) and TMAX (most tokens) are consts from matvec_batch.ts; the step
// uniform comes from step.wgsl.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, ROWS * TMAX * WG>;

fn x8(t: u32, word: u32) -> array<vec4<f32>, 2> {
  let k = word * 8u;
  let base = t * K + k;
  var v: array<f32, 8>;
  for (var j = 0u; j < 8u; j++) {
    v[j] = select(0.0, x[base + j], k + j < K);
  }
  return array<vec4<f32>, 2>(vec4<f32>(v[0], v[1], v[2], v[3]), vec4<f32>(v[4], v[5], v[6], v[7]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row0 = (wid.x + wid.y * nwg.x) * ROWS;
  let tokens = min(step.tokens, TMAX);
  var acc: array<f32, ROWS * TMAX>;
  for (var word = lid; word < W_WORDS; word += WG) {
    var w: array<W8, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      w[r] = W8(vec4<f32>(0.0), vec4<f32>(0.0));
      if (row0 + r < N) {
        w[r] = load_w8(row0 + r, word);
      }
    }
    for (var t = 0u; t < tokens; t++) {
      let xv = x8(t, word);
      for (var r = 0u; r < ROWS; r++) {
        acc[r * TMAX + t] += dot(w[r].lo, xv[0]) + dot(w[r].hi, xv[1]);
      }
    }
  }
  for (var i = 0u; i < ROWS * TMAX; i++) {
    partial[i * WG + lid] = acc[i];
  }
  workgroupBarrier();
  let r = lid / TMAX;
  let t = lid % TMAX;
  let row = row0 + r;
  if (r < ROWS && t < tokens && row < N) {
    var sum = 0.0;
    for (var i = 0u; i < WG; i++) {
      sum += partial[(r * TMAX + t) * WG + i];
    }
    var base = 0.0;
    if (ACCUMULATE) {
      base = y[t * Y_STRIDE + row];
    }
    y[t * Y_STRIDE + row] = base + sum;
  }
}
