// y[n] (+)= sum_k x[k] * W[n, k] for one token (decode). One workgroup per output row: the threads
// stride over the row's 8-wide blocks (adjacent threads read adjacent words, so loads coalesce),
// then reduce their partial sums in workgroup memory.
// Needs a weight format (weights_*.wgsl) prepended: it provides load_w8 and W_WORDS.

override K: u32;               // input width
override N: u32;               // output rows
override ACCUMULATE: bool = false;  // add into y (the residual stream) instead of overwriting
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn x_at(k: u32) -> f32 {
  return select(0.0, x[k], k < K);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  var acc = 0.0;
  if (row < N) {
    for (var word = lid; word < W_WORDS; word += WG) {
      let w = load_w8(row, word);
      let k = word * 8u;
      let xlo = vec4<f32>(x_at(k), x_at(k + 1u), x_at(k + 2u), x_at(k + 3u));
      let xhi = vec4<f32>(x_at(k + 4u), x_at(k + 5u), x_at(k + 6u), x_at(k + 7u));
      acc += dot(w.lo, xlo) + dot(w.hi, xhi);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u && row < N) {
    var base = 0.0;
    if (ACCUMULATE) {
      base = y[row];
    }
    y[row] = base + partial[0];
  }
}
