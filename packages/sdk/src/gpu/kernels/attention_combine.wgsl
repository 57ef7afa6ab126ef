// Merges the per-chunk partial results of attention_split.wgsl into each head's output: with M the
// largest chunk max, out = Σ_c e^(m_c - M)·acc_c / Σ_c e^(m_c - M)·l_c. One workgroup per head, no
// barriers: every thread reads the few chunk maxima itself. Needs the step uniform prepended.

override HEAD_DIM: u32;
override N_HEADS: u32;
override WG: u32 = 64;
override CHUNK: u32 = 256;
override MAX_CHUNKS: u32;

@group(0) @binding(0) var<storage, read> partials: array<f32>;       // [N_HEADS, MAX_CHUNKS, HEAD_DIM + 2]
@group(0) @binding(1) var<storage, read_write> out: array<f32>;      // [N_HEADS * HEAD_DIM]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let chunks = (step.start_pos + 1u + CHUNK - 1u) / CHUNK;
  let stride = HEAD_DIM + 2u;
  let first = head * MAX_CHUNKS * stride;
  var m = -3.0e38;
  for (var c = 0u; c < chunks; c++) {
    m = max(m, partials[first + c * stride + HEAD_DIM]);
  }
  var l = 0.0;
  for (var c = 0u; c < chunks; c++) {
    l += exp(partials[first + c * stride + HEAD_DIM] - m) * partials[first + c * stride + HEAD_DIM + 1u];
  }
  for (var d = lid; d < HEAD_DIM; d += WG) {
    var a = 0.0;
    for (var c = 0u; c < chunks; c++) {
      a += exp(partials[first + c * stride + HEAD_DIM] - m) * partials[first + c * stride + d];
    }
    out[head * HEAD_DIM + d] = a / l;
  }
}
