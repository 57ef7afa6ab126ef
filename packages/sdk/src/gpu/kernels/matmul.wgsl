// Y[t, n] (+)= sum_k X[t, k] * W[n, k] for a batch of tokens (prefill): matrix x matrix.
// Each workgroup computes a 32-token x 32-row tile; per 32-wide slice of K (one quantization group)
// it stages X and the dequantized W in workgroup memory, then every thread accumulates a 4x4 block.
// Needs a weight format (weights_*.wgsl) prepended: it provides load_w8 and W_WORDS.

override K: u32;
override N: u32;
override Y_STRIDE: u32;       // y's row stride: all the matrix's rows (N counts this band's, when it is split)
override ACCUMULATE: bool = false;

// TILE (32: 8x8 threads, each a 4x4 block) is a const from matmul.ts; the step uniform comes
// from step.wgsl.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<array<f32, TILE>, TILE>;  // [token][k]
var<workgroup> ws: array<array<f32, TILE>, TILE>;  // [row][k]

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let T = step.tokens;
  var acc: array<array<f32, 4>, 4>;
  let k_tiles = (K + TILE - 1u) / TILE;
  for (var kt = 0u; kt < k_tiles; kt++) {
    let k0 = kt * TILE;
    // Stage X: 1024 values, 16 per thread.
    for (var i = lid; i < TILE * TILE; i += 64u) {
      let t = i / TILE;
      let k = i % TILE;
      let gt = t0 + t;
      let gk = k0 + k;
      xs[t][k] = select(0.0, x[gt * K + gk], gt < T && gk < K);
    }
    // Stage W: 32 rows x 4 words of 8 values, 2 words per thread.
    for (var i = lid; i < TILE * 4u; i += 64u) {
      let r = i / 4u;
      let word_in_tile = i % 4u;
      let gn = n0 + r;
      let word = kt * 4u + word_in_tile;
      var w = W8(vec4<f32>(0.0), vec4<f32>(0.0));
      if (gn < N && word < W_WORDS) {
        w = load_w8(gn, word);
      }
      let kk = word_in_tile * 8u;
      ws[r][kk] = w.lo.x; ws[r][kk + 1u] = w.lo.y; ws[r][kk + 2u] = w.lo.z; ws[r][kk + 3u] = w.lo.w;
      ws[r][kk + 4u] = w.hi.x; ws[r][kk + 5u] = w.hi.y; ws[r][kk + 6u] = w.hi.z; ws[r][kk + 7u] = w.hi.w;
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = xs[lid3.y * 4u + i][k];
        b[i] = ws[lid3.x * 4u + i][k];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] += a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let t = t0 + lid3.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid3.x * 4u + j;
      if (t < T && n < N) {
        var base = 0.0;
        if (ACCUMULATE) {
          base = y[t * Y_STRIDE + n];
        }
        y[t * Y_STRIDE + n] = base + acc[i][j];
      }
    }
  }
}
