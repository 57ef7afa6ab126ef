// hidden[t, :] = E[token[t], :], dequantizing the embedding table as it is read.
// One thread per 8-wide block of one token's row. Needs a weight format prepended (load_w8).

override K: u32;  // hidden size
override WG: u32 = 64;
override ROW0: u32 = 0u;          // the first table row this dispatch holds (a band of a split table)…
override ROWS: u32 = 0xffffffffu;  // …and how many: tokens outside are another band's

@group(0) @binding(0) var<storage, read> token_ids: array<u32>;
@group(0) @binding(1) var<storage, read_write> hidden: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let blocks = (K + 7u) / 8u;
  let t = i / blocks;
  let word = i % blocks;
  if (t >= step.tokens) {
    return;
  }
  let row = token_ids[t] - ROW0;  // wraps to a huge value below ROW0
  if (row >= ROWS) {
    return;
  }
  let w = load_w8(row, word);
  let values = array<f32, 8>(w.lo.x, w.lo.y, w.lo.z, w.lo.w, w.hi.x, w.hi.y, w.hi.z, w.hi.w);
  for (var j = 0u; j < 8u; j++) {
    let k = word * 8u + j;
    if (k < K) {
      hidden[t * K + k] = values[j];
    }
  }
}
