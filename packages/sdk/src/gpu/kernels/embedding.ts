/**
 * embedding.wgsl — hidden[t] = E[token[t]], dequantized as it is read; one thread per 8 values. A
 * table split into bands of rows takes one dispatch per band, each writing the tokens in its rows.
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import { WEIGHTS_W8_WGSL, weightConstants, type WeightFormat } from './formats.js';
import { STEP_BINDING, STEP_WGSL } from './step.js';
import body from './embedding.wgsl?raw';

export interface EmbeddingParams {
  format: WeightFormat;
  /** Hidden size (the table's columns). */
  cols: number;
  /**
   * The table's rows this dispatch holds, when it is split into bands (limits.ts splitRows): tokens
   * outside them are left to the other bands' dispatches. Default: all of them.
   */
  band?: { row0: number; rows: number };
}

const WG = 64;

export const embedding: KernelDescriptor<EmbeddingParams, 'ids' | 'out' | 'weights' | 'scales' | 'step'> = {
  name: 'embedding',
  code: (p) => WEIGHTS_W8_WGSL[p.format] + STEP_WGSL + body,
  bindings: (p) => ({
    ids: { slot: 0, kind: 'read' },
    out: { slot: 1, kind: 'write' },
    weights: { slot: 2, kind: 'read' },
    ...(p.format === 'f32' ? {} : { scales: { slot: 3, kind: 'read' as const } }),
    step: STEP_BINDING,
  }),
  constants: (p) => ({ ...weightConstants(p), K: p.cols, WG, ROW0: p.band?.row0 ?? 0, ROWS: p.band?.rows ?? 0xffffffff }),
  workgroups: (p, step) => grid1D(Math.ceil((step.tokens * Math.ceil(p.cols / 8)) / WG)),
};
