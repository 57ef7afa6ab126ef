// Applies per-token sampling adjustments to the logits in place, before argmax or readback:
// Hugging Face's repetition_penalty (divide positive, multiply negative logits of tokens in the
// context), OpenAI's presence/frequency penalties (tokens generated so far) and logit_bias.
// One thread per adjusted token; the host lists each token once, so no two threads touch one logit.

struct Adjustment {
  id: u32,
  in_context: u32,
  generated: u32,
  bias: f32,
}

struct Params {
  count: u32,
  repetition_penalty: f32,
  presence_penalty: f32,
  frequency_penalty: f32,
}

@group(0) @binding(0) var<storage, read> adjustments: array<Adjustment>;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= params.count) {
    return;
  }
  let a = adjustments[gid.x];
  var l = logits[a.id];
  if (a.in_context != 0u && params.repetition_penalty != 1.0) {
    l = select(l / params.repetition_penalty, l * params.repetition_penalty, l < 0.0);
  }
  l -= f32(a.generated) * params.frequency_penalty + select(0.0, params.presence_penalty, a.generated > 0u);
  logits[a.id] = l + a.bias;
}
