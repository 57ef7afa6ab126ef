/**
 * matvec_subgroup.wgsl — the decode matvec for real GPUs: 16-byte loads (a whole quantization group
 * per thread), x read once per group for ROWS rows, subgroupAdd reductions. Needs the `subgroups`
 * feature; with `arithmetic: 'f16'` (q4f16 weights on adapters with `shader-f16`) the four-term
 * dots run in half precision. Falls back to matvec.wgsl elsewhere.
 */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import { groupConstants, weightedBindings, weightsGroupWgsl, type WeightedBinding } from './formats.js';
import type { LinearParams } from './matvec.js';
import { STEP_WGSL, widthFor, wgslConsts } from './step.js';
import body from './matvec_subgroup.wgsl?raw';
import { groupsPerRow } from '../../model/quant.js';

export interface SubgroupMatvecParams extends LinearParams {
  arithmetic: 'f32' | 'f16';
}

/** Output rows per workgroup: each x group loaded serves this many rows. */
export const SUBGROUP_ROWS = 4;

/** True when a matrix fits this kernel: x is read as vec4, and f16 arithmetic only for f16-scaled 4-bit weights. */
export function subgroupMatvecFits(p: SubgroupMatvecParams): boolean {
  return p.cols % 4 === 0 && (p.arithmetic === 'f32' || p.format === 'q4f16');
}

export const matvecSubgroup: KernelDescriptor<SubgroupMatvecParams, WeightedBinding> = {
  name: 'matvec_subgroup',
  code: (p) =>
    (p.arithmetic === 'f16' ? 'enable f16;\n' : '') +
    'enable subgroups;\n' +
    wgslConsts({ ROWS: SUBGROUP_ROWS }) +
    weightsGroupWgsl(p.format, p.arithmetic) +
    STEP_WGSL +
    body,
  bindings: (p) => weightedBindings(p.format),
  // One thread per group of a row, 8 to 64 threads.
  constants: (p) => ({ ...groupConstants(p), K: p.cols, N: p.rows, ACCUMULATE: p.accumulate ? 1 : 0, WG: widthFor(groupsPerRow(p.cols), 8, 64) }),
  workgroups: (p) => grid1D(Math.ceil(p.rows / SUBGROUP_ROWS)),
  features: (p) => (p.arithmetic === 'f16' ? ['subgroups', 'shader-f16'] : ['subgroups']),
};
