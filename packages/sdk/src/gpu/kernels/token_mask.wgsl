// Holds the next token to a grammar: every token whose bit is clear in the mask gets the lowest float
// as its logit, after the penalties and biases (so no bias can bring a disallowed token back), before
// argmax or readback. The mask is XGrammar's bitmask: token id is allowed when bit (id & 31) of word
// (id >> 5) is set. The lowest finite float, not -inf: argmax never picks it, exp() of it is 0, and a
// constant -inf is not valid WGSL.

override V: u32;
const LOWEST: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<storage, read> mask: array<u32>;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let id = gid.x + gid.y * groups.x * 256u;
  if (id >= V) {
    return;
  }
  if (((mask[id >> 5u] >> (id & 31u)) & 1u) == 0u) {
    logits[id] = LOWEST;
  }
}
