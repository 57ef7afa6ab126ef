/** swiglu.wgsl — act = silu(gate) · up from the fused gate|up projection, one thread per value. */
import { grid1D, type KernelDescriptor } from '../kernel.js';
import { STEP_BINDING, STEP_WGSL } from './step.js';
import body from './swiglu.wgsl?raw';

export interface SwigluParams {
  intermediate: number;
}

const WG = 64;

export const swiglu: KernelDescriptor<SwigluParams, 'gateUp' | 'out' | 'step'> = {
  name: 'swiglu',
  code: () => STEP_WGSL + body,
  bindings: () => ({ gateUp: { slot: 0, kind: 'read' }, out: { slot: 1, kind: 'write' }, step: STEP_BINDING }),
  constants: (p) => ({ I: p.intermediate, WG }),
  workgroups: (p, step) => grid1D(Math.ceil((step.tokens * p.intermediate) / WG)),
};
