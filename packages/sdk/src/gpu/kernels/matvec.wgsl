// y[n] (+)= sum_k x[k] * W[n, k] for one token (decode). Each workgroup computes ROWS output rows:
// its threads stride over the rows' 8-wide blocks (adjacent threads read adjacent words, so loads
// coalesce, and each x block is loaded once for all ROWS rows), then one barrier, then one thread
// per row adds up the threads' partial sums. Few barriers per row matters: barriers are the
// costliest thing in a workgroup on every GPU, and far more so on software ones.
// Needs a weight format (weights_*.wgsl) prepended: it provides load_w8 and W_WORDS.

override K: u32;               // input width
override N: u32;               // output rows
override ACCUMULATE: bool = false;  // add into y (the residual stream) instead of overwriting
override WG: u32 = 64;
// ROWS (rows per workgroup) is a const the descriptor (matvec.ts) puts in front.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, ROWS * WG>;

fn x_at(k: u32) -> f32 {
  return select(0.0, x[k], k < K);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row0 = (wid.x + wid.y * nwg.x) * ROWS;
  var acc = array<f32, ROWS>(0.0, 0.0, 0.0, 0.0);
  for (var word = lid; word < W_WORDS; word += WG) {
    let k = word * 8u;
    let xlo = vec4<f32>(x_at(k), x_at(k + 1u), x_at(k + 2u), x_at(k + 3u));
    let xhi = vec4<f32>(x_at(k + 4u), x_at(k + 5u), x_at(k + 6u), x_at(k + 7u));
    for (var r = 0u; r < ROWS; r++) {
      if (row0 + r < N) {
        let w = load_w8(row0 + r, word);
        acc[r] += dot(w.lo, xlo) + dot(w.hi, xhi);
      }
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    partial[r * WG + lid] = acc[r];
  }
  workgroupBarrier();
  let row = row0 + lid;
  if (lid < ROWS && row < N) {
    var sum = 0.0;
    for (var i = 0u; i < WG; i++) {
      sum += partial[lid * WG + i];
    }
    var base = 0.0;
    if (ACCUMULATE) {
      base = y[row];
    }
    y[row] = base + sum;
  }
}
