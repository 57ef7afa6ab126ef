// Fills a buffer with deterministic pseudo-random contents on the GPU, so the benchmark can run a
// Baichuan-7B-shaped model (3.9 GB of 4-bit weights) without a file or a CPU-side copy. Element i
// is derived from hash(i + SEED) (the PCG output hash): MODE 0 writes the raw 32-bit hash (4-bit
// weight codes), MODE 1 two half floats uniform in [LO, HI) packed per word (f16 scales), MODE 2 one
// float32 in [LO, HI) (norm weights, f32 scales, f32 weights).

override MODE: u32;
override LO: f32;
override HI: f32;

struct Fill { seed: u32, count: u32 }  // count: u32 words to write

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> fill: Fill;

fn hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn uniform01(v: u32) -> f32 {
  return f32(hash(v) >> 8u) / 16777216.0;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= fill.count) {
    return;
  }
  let seed = i * 2u + fill.seed;
  if (MODE == 0u) {
    out[i] = hash(seed);
  } else if (MODE == 1u) {
    let a = LO + (HI - LO) * uniform01(seed);
    let b = LO + (HI - LO) * uniform01(seed + 1u);
    out[i] = pack2x16float(vec2<f32>(a, b));
  } else {
    out[i] = bitcast<u32>(LO + (HI - LO) * uniform01(seed));
  }
}
