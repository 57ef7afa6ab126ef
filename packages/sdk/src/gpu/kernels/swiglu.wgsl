// act[t, i] = silu(gate[t, i]) * up[t, i], where the fused gate_up projection holds the gate rows
// first, then the up rows: gate_up[t] = [gate (I values) | up (I values)].

override I: u32;  // intermediate size
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> gate_up: array<f32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let t = idx / I;
  if (t >= step.tokens) {
    return;
  }
  let i = idx % I;
  let g = gate_up[t * 2u * I + i];
  let u = gate_up[t * 2u * I + I + i];
  act[idx] = g / (1.0 + exp(-g)) * u;
}
