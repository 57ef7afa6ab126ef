// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight, in float32 as Baichuan and llama2.c do.
// One workgroup per token row. With LAST_ROW it normalizes only the step's last token (row
// step.tokens - 1 of x) into row 0 of out: the input of the classifier when only the next token matters.

override H: u32;
override EPS: f32;
override WG: u32 = 64;
override LAST_ROW: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = select(wid.x, step.tokens - 1u, LAST_ROW) * H;
  let out_base = wid.x * H;
  var ss = 0.0;
  for (var k = lid; k < H; k += WG) {
    let v = x[base + k];
    ss += v * v;
  }
  partial[lid] = ss;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(partial[0] / f32(H) + EPS);
  for (var k = lid; k < H; k += WG) {
    out[out_base + k] = weight[k] * (inv * x[base + k]);
  }
}
