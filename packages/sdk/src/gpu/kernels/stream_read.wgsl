// The bandwidth probe: reads a buffer once as fast as the memory system allows, so the benchmark can
// say how close decode gets to this GPU's real limit. Threads stride over vec4<u32> words grid-wide
// (neighbouring threads read neighbouring words, every load 16 bytes) and each writes the wrapping
// sum of what it read, so the reads cannot be optimized away.

override WG: u32 = 256;
override PER_THREAD: u32 = 16;
override WORDS: u32;  // vec4<u32> words in data

@group(0) @binding(0) var<storage, read> data: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let threads = nwg.x * nwg.y * WG;
  let id = (wid.x + wid.y * nwg.x) * WG + lid;
  var acc = vec4<u32>(0u);
  for (var i = 0u; i < PER_THREAD; i++) {
    let j = id + i * threads;
    if (j < WORDS) {
      acc += data[j];
    }
  }
  out[id] = acc.x + acc.y + acc.z + acc.w;
}
