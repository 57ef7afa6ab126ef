/** rmsnorm.wgsl — out = x / √(mean(x²) + ε) · weight per token row, one workgroup per row. */
import type { KernelDescriptor } from '../kernel.js';
import { STEP_BINDING, STEP_WGSL } from './step.js';
import body from './rmsnorm.wgsl?raw';

export interface RmsNormParams {
  hidden: number;
  eps: number;
  /** Normalize only the step's last token (into row 0): the classifier's input. */
  lastRow: boolean;
}

export const rmsnorm: KernelDescriptor<RmsNormParams, 'x' | 'out' | 'weight' | 'step'> = {
  name: 'rmsnorm',
  code: () => STEP_WGSL + body,
  bindings: () => ({ x: { slot: 0, kind: 'read' }, out: { slot: 1, kind: 'write' }, weight: { slot: 2, kind: 'read' }, step: STEP_BINDING }),
  constants: (p) => ({ H: p.hidden, EPS: p.eps, LAST_ROW: p.lastRow ? 1 : 0 }),
  workgroups: (p, step) => [p.lastRow ? 1 : step.tokens, 1],
};
