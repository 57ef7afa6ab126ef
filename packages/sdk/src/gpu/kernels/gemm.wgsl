// Y[t, n] (+)= Σ_k X[t, k]·W[n, k] for a batch of tokens (prefill), shaped for real GPUs: each
// workgroup computes a TILE_N-row × TILE_T-token tile (TILE_T = 32, or 16 for short prompts, which
// would otherwise be half padding), walking K one quantization group (32 columns)
// at a time. Per group, each of the 64 threads dequantizes one row's whole group (one 16-byte load)
// into workgroup memory, the threads stage X's 32 × 32 slice as vec4, one barrier, then every
// thread accumulates an 8-row × TJ-token block in registers (TJ = TILE_T / 8): with 32-token tiles
// 128 multiply-adds per 12 vec4 reads of workgroup memory (the portable matmul.wgsl does 16 per 8
// scalar reads), and half as many barriers per output. Threads own rows tx + 8i and tokens ty + 8j,
// so neighbours read neighbouring words.
//
// Prepended by gemm.ts: TILE_N (64), TILE_T (16 or 32) and TJ, `alias F = f32;`, a group weight format
// (group_values), the step uniform. K must be a multiple of 4 (X is read as vec4).

override K: u32;
override N: u32;
override Y_STRIDE: u32;       // y's row stride: all the matrix's rows (N counts this band's, when it is split)
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> ws: array<array<vec4<f32>, TILE_N>, 8>;  // [k / 4][row]: the group's 32 columns
var<workgroup> xs: array<array<vec4<f32>, TILE_T>, 8>;  // [k / 4][token]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wid.x * TILE_N;
  let t0 = wid.y * TILE_T;
  let T = step.tokens;
  let quads = K / 4u;
  let tx = lid % 8u;
  let ty = lid / 8u;
  var acc: array<array<f32, TJ>, 8>;  // [row i][token j]
  for (var g = 0u; g < W_GROUPS; g++) {
    // Stage W: thread lid dequantizes row n0 + lid (rows past N read as zero).
    let row = n0 + lid;
    var w = group_values(min(row, N - 1u), g);
    for (var i = 0u; i < 8u; i++) {
      ws[i][lid] = select(vec4<f32>(0.0), w[i], row < N);
    }
    // Stage X: TILE_T tokens × 8 quads, TJ per thread.
    for (var m = 0u; m < TJ; m++) {
      let idx = lid + m * 64u;
      let t = idx / 8u;
      let q = idx % 8u;
      let gq = g * 8u + q;
      let gt = t0 + t;
      let ok = gt < T && gq < quads;
      xs[q][t] = select(vec4<f32>(0.0), x[select(0u, gt * quads + gq, ok)], ok);
    }
    workgroupBarrier();
    for (var q = 0u; q < 8u; q++) {
      var b: array<vec4<f32>, TJ>;
      for (var j = 0u; j < TJ; j++) {
        b[j] = xs[q][ty + 8u * j];
      }
      for (var i = 0u; i < 8u; i++) {
        let a = ws[q][tx + 8u * i];
        for (var j = 0u; j < TJ; j++) {
          acc[i][j] += dot(a, b[j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 8u; i++) {
    let n = n0 + tx + 8u * i;
    for (var j = 0u; j < TJ; j++) {
      let t = t0 + ty + 8u * j;
      if (n < N && t < T) {
        var base = 0.0;
        if (ACCUMULATE) {
          base = y[t * Y_STRIDE + n];
        }
        y[t * Y_STRIDE + n] = base + acc[i][j];
      }
    }
  }
}
