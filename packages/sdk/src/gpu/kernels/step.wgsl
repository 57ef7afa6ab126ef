// The step uniform: how many tokens this forward step runs and the position of the first. Every
// kernel whose work depends on the step reads it here (step.ts states the slot for TypeScript).
struct Step { tokens: u32, start_pos: u32 }
@group(0) @binding(4) var<uniform> step: Step;
