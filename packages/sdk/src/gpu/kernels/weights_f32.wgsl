// Weight access for unquantized float32 weights (MLC q0f32), row-major [rows, cols].
// Presents the same load_w8 as the 4-bit formats so every kernel serves all three.

@group(0) @binding(2) var<storage, read> w_f: array<f32>;

override W_WORDS: u32;  // blocks of 8 per row: ceil(cols / 8)
override W_COLS: u32;

struct W8 { lo: vec4<f32>, hi: vec4<f32> }

fn w_at(row: u32, col: u32) -> f32 {
  // Columns past the row's end read as zero, like the padding of the quantized formats.
  return select(0.0, w_f[row * W_COLS + col], col < W_COLS);
}

fn load_w8(row: u32, word: u32) -> W8 {
  let k = word * 8u;
  return W8(
    vec4<f32>(w_at(row, k), w_at(row, k + 1u), w_at(row, k + 2u), w_at(row, k + 3u)),
    vec4<f32>(w_at(row, k + 4u), w_at(row, k + 5u), w_at(row, k + 6u), w_at(row, k + 7u)));
}
