// The index of the largest logit (the lowest index among equals, as torch.argmax and llama2.c pick),
// so greedy decoding reads back 4 bytes per token instead of the whole vocabulary.

override V: u32;
const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<u32>;

var<workgroup> best_value: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var value = -3.4e38;
  var index = 0xffffffffu;
  for (var i = lid; i < V; i += WG) {
    let v = logits[i];
    if (v > value) {  // strided ascending: the first hit of a value keeps the lowest index
      value = v;
      index = i;
    }
  }
  best_value[lid] = value;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let v = best_value[lid + stride];
      let j = best_index[lid + stride];
      if (v > best_value[lid] || (v == best_value[lid] && j < best_index[lid])) {
        best_value[lid] = v;
        best_index[lid] = j;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    result[0] = best_index[0];
  }
}
