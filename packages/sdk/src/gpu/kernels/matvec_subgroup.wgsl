// y[n] (+)= Σ_k x[k]·W[n, k] for one token (decode), shaped for real GPUs, where decode is bound by
// memory bandwidth: every thread loads a whole quantization group per row per step (16 bytes = 32
// 4-bit weights, one vec4<u32>), the matching 32 values of x once for all ROWS rows, and the
// partial sums meet through subgroupAdd instead of a thread that adds up WG values.
//
// The subgroup size is whatever the adapter has (4 to 128) and WGSL says nothing about which
// invocations form a subgroup, so the sums of subgroups are combined without assuming a layout:
// one elected invocation per subgroup writes its sums at its own index and sets its bit in a mask,
// and after one barrier ROWS threads add the marked entries in index order (deterministic).
//
// Prepended by matvec_subgroup.ts: `enable subgroups;` (and `enable f16;`), ROWS, `alias F` (the
// arithmetic type: f16 multiplies four-term dots in half precision), a group weight format
// (group_dot), the step uniform. K must be a multiple of 4 (x is read as vec4).

override K: u32;
override N: u32;
override ACCUMULATE: bool = false;
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

var<workgroup> sums: array<f32, ROWS * WG>;
var<workgroup> leaders: array<atomic<u32>, (WG + 31u) / 32u>;

// x[32g .. 32g + 31] as 8 vec4, zeros past K.
fn x_group(g: u32) -> array<vec4<F>, 8> {
  let quads = K / 4u;
  var v: array<vec4<F>, 8>;
  for (var i = 0u; i < 8u; i++) {
    let j = g * 8u + i;
    v[i] = select(vec4<F>(0.0), vec4<F>(x[min(j, quads - 1u)]), j < quads);
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row0 = (wid.x + wid.y * nwg.x) * ROWS;
  var acc: array<f32, ROWS>;
  for (var g = lid; g < W_GROUPS; g += WG) {
    let xg = x_group(g);
    for (var r = 0u; r < ROWS; r++) {
      // Rows past N (the last workgroup) recompute row N-1 rather than branch; they are not written.
      acc[r] += group_dot(min(row0 + r, N - 1u), g, xg);
    }
  }
  let elected = subgroupElect();
  for (var r = 0u; r < ROWS; r++) {
    let s = subgroupAdd(acc[r]);
    if (elected) {
      sums[r * WG + lid] = s;
    }
  }
  if (elected) {
    atomicOr(&leaders[lid / 32u], 1u << (lid % 32u));
  }
  workgroupBarrier();
  let row = row0 + lid;
  if (lid < ROWS && row < N) {
    var total = 0.0;
    for (var w = 0u; w < (WG + 31u) / 32u; w++) {
      var mask = atomicLoad(&leaders[w]);
      while (mask != 0u) {
        total += sums[lid * WG + w * 32u + countTrailingZeros(mask)];
        mask &= mask - 1u;
      }
    }
    var base = 0.0;
    if (ACCUMULATE) {
      base = y[row];
    }
    y[row] = base + total;
  }
}
