/**
 * Times each option of each step kind on the model's own shapes (a ModelSample), for `auto`.
 *
 * What is timed, per step kind:
 * - decode matvec: each matrix of a layer (times the layer count) and the classifier;
 * - decode attention: one layer's attention at a short and at a long cache position (the mean, times
 *   the layer count);
 * - prefill: the layer's largest matrix for a 32-token batch (its time scaled to the whole layer by
 *   weight bytes, times the layer count): GEMM pipelines are the slowest to compile, one per option will do.
 * Each timed dispatch runs only its first k workgroups (the rows the sample holds), k doubling or more
 * from 1 until a pass lasts about TARGET_MS, or repeated inside the pass when even the whole matrix is
 * quicker: a tiny sample on a CPU emulator, whole matrices on a real GPU. The time of the whole
 * dispatch is the sample's, scaled by the share of the workgroups it ran. A warm-up pass comes first (some
 * drivers compile a pipeline at its first dispatch), then rounds that interleave the options, so a
 * burst of load elsewhere on the machine hits them alike; each dispatch keeps its best round.
 */
import { layerParamNames } from '../model/params.js';
import { readbackBuffer } from '../gpu/buffers.js';
import type { Dispatch, StepShape } from '../gpu/kernel.js';
import { choiceOf, STEP_KINDS, type KernelOption, type KernelSelection, type StepKind } from '../gpu/variants.js';
import { activeDispatches } from './forward.js';
import type { KernelEstimates } from './kernel-tuning.js';
import { rowBytes, TILE_SLACK_ROWS, type ModelSample, type SampleStep } from './model-sample.js';

/** Times passes: each job is one compute pass, its duration in milliseconds. */
export interface PassClock {
  readonly kind: 'gpu-timestamps' | 'wall-clock';
  time(jobs: readonly TimingJob[]): Promise<number[]>;
}

export interface TimingJob {
  /** The step uniform the pass's dispatches read. */
  shape: StepShape;
  encode(pass: GPUComputePassEncoder): void;
}

/** GPU timestamps around each pass (timestamp-query): what the GPU spent, not the submit's overhead. */
export function timestampClock(device: GPUDevice, writeStep: (shape: StepShape) => void): PassClock {
  return {
    kind: 'gpu-timestamps',
    async time(jobs) {
      const count = jobs.length * 2;
      const querySet = device.createQuerySet({ type: 'timestamp', count });
      const resolved = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const read = readbackBuffer(device, count * 8, 'kernel timings');
      try {
        // One submit per run of jobs with the same step uniform: a queue write lands between submits.
        for (let i = 0; i < jobs.length; ) {
          const shape = jobs[i]!.shape;
          writeStep(shape);
          const encoder = device.createCommandEncoder({ label: 'kernel timing' });
          for (; i < jobs.length && sameShape(jobs[i]!.shape, shape); i++) {
            const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
            jobs[i]!.encode(pass);
            pass.end();
          }
          device.queue.submit([encoder.finish()]);
        }
        const encoder = device.createCommandEncoder();
        encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
        encoder.copyBufferToBuffer(resolved, 0, read, 0, count * 8);
        device.queue.submit([encoder.finish()]);
        await read.mapAsync(GPUMapMode.READ);
        const ns = new BigUint64Array(read.getMappedRange().slice(0));
        read.unmap();
        return jobs.map((_, i) => Math.max(0, Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e6));
      } finally {
        read.destroy();
        resolved.destroy();
        querySet.destroy();
      }
    },
  };
}

/** Wall-clock time from submit to onSubmittedWorkDone, one pass at a time: where timestamps are missing. */
export function wallClock(device: GPUDevice, writeStep: (shape: StepShape) => void): PassClock {
  return {
    kind: 'wall-clock',
    async time(jobs) {
      const times: number[] = [];
      for (const job of jobs) {
        writeStep(job.shape);
        const encoder = device.createCommandEncoder({ label: 'kernel timing' });
        const pass = encoder.beginComputePass();
        job.encode(pass);
        pass.end();
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        times.push(performance.now() - t0);
      }
      return times;
    },
  };
}

function sameShape(a: StepShape, b: StepShape): boolean {
  return a.tokens === b.tokens && a.startPos === b.startPos;
}

/**
 * How long one timed pass should last: far above timer resolution (Chrome rounds timestamps to
 * 0.1 ms), and long enough that on a CPU emulator a pass spans many scheduler time slices.
 */
const TARGET_MS = 25;
/**
 * Fewest workgroups a decode matvec sample runs. Smaller samples ran several times faster per
 * workgroup than whole matrices on SwiftShader (TinyLlama's gate|up: 0.03 ms per workgroup for 8 of
 * them, 0.4 ms from 128 on), which misjudged the options; 64 and more behave like the whole.
 */
const MIN_MATVEC_WORKGROUPS = 64;
/** Timestamps come rounded (Dawn: to 65.5 µs; Chrome: to 100 µs): shorter readings say little. */
const TIMER_RESOLUTION_MS = 0.1;
/** Most a sample grows from one calibration pass to the next (readings are noisy; overshooting costs time). */
const MAX_GROWTH = 8;
/** Most repetitions of a dispatch inside one pass. */
const MAX_REPS = 64;
/** Measurement rounds after calibration, and at most for close calls (the two best within CLOSE_CALL). */
const ROUNDS = 5;
const MAX_ROUNDS = 10;
const CLOSE_CALL = 0.15;
/** From the second round on, an option estimated over OUTRUN× its kind's best is not timed further. */
const OUTRUN = 3;

/** One dispatch timed for one option: its share of the step kind's estimate and its sampling. */
interface Unit {
  kind: StepKind;
  option: string;
  dispatch: Dispatch;
  shape: StepShape;
  /** Multiplies this dispatch's full-size time in the kind's estimate. */
  weight: number;
  /** Workgroups along x of the whole dispatch, and the most whose rows the sample holds. */
  fullWorkgroups: number;
  maxWorkgroups: number;
  workgroups: number;
  reps: number;
  /** Best milliseconds per repetition of `workgroups` workgroups so far. */
  best: number;
}

export interface TimingProgress {
  /** Timed passes run so far, of about `total`. */
  done: number;
  total: number;
}

export interface TimingOptions {
  /** Stop starting new rounds after this long (the estimates keep the rounds done). */
  budgetMs?: number;
  onProgress?: (p: TimingProgress) => void;
}

/**
 * Estimates, per step kind, each option's time over the whole model. Kinds with one option are not
 * timed; the other kinds of each timed KernelChoice take their first option (they do not change
 * what is timed).
 */
export async function timeKernelOptions(
  sample: ModelSample,
  options: Record<StepKind, KernelOption[]>,
  clock: PassClock,
  timing: TimingOptions = {},
): Promise<KernelEstimates> {
  const started = performance.now();
  const base: KernelSelection = { decodeMatvec: options.decodeMatvec[0]!.name, decodeAttention: options.decodeAttention[0]!.name, prefill: options.prefill[0]!.name };
  const units: Unit[] = [];
  for (const kind of STEP_KINDS) {
    if (options[kind].length < 2) continue;
    for (const option of options[kind]) {
      const steps = sample.steps(choiceOf({ ...base, [kind]: option.name }, options));
      units.push(...unitsOf(kind, option.name, steps, sample));
    }
  }
  await Promise.all(units.map((u) => u.dispatch.prepare()));
  const total = units.length * (5 + ROUNDS);
  let done = 0;
  const run = async (list: Unit[]): Promise<number[]> => {
    const times = await clock.time(
      list.map((u) => ({
        shape: u.shape,
        encode: (pass: GPUComputePassEncoder) => {
          for (let r = 0; r < u.reps; r++) u.dispatch.encode(pass, u.shape, u.workgroups);
        },
      })),
    );
    done += list.length;
    timing.onProgress?.({ done, total });
    return times;
  };
  // Warm-up (lavapipe compiles at the first dispatch), then samples grown until a pass lasts TARGET_MS.
  for (const u of units) u.workgroups = 1;
  await run(units);
  for (const u of units) u.workgroups = Math.min(u.maxWorkgroups, u.kind === 'decodeMatvec' ? MIN_MATVEC_WORKGROUPS : 1);
  let growing = units;
  while (growing.length > 0) {
    const times = await run(growing);
    growing = growing.filter((u, i) => {
      const t = times[i]!;
      if (t >= TARGET_MS || u.workgroups === u.maxWorkgroups) {
        // Whole and still short: repeat it inside the pass instead.
        u.reps = t >= TARGET_MS ? 1 : Math.min(MAX_REPS, Math.ceil(TARGET_MS / Math.max(t, TIMER_RESOLUTION_MS)));
        return false;
      }
      const factor = Math.min(MAX_GROWTH, Math.max(2, TARGET_MS / Math.max(t, TIMER_RESOLUTION_MS)));
      u.workgroups = Math.min(u.maxWorkgroups, Math.ceil(u.workgroups * factor));
      return true;
    });
  }
  // Rounds interleave the options. After ROUNDS, only close calls (two options within CLOSE_CALL)
  // get more, up to MAX_ROUNDS; an option over OUTRUN× its kind's best after two sits the rest out.
  const outrun = new Set<string>();
  const unsettled = new Set<StepKind>(STEP_KINDS);
  for (let round = 0; round < MAX_ROUNDS && unsettled.size > 0; round++) {
    if (round > 0 && timing.budgetMs !== undefined && performance.now() - started > timing.budgetMs) break;
    const list = units.filter((u) => unsettled.has(u.kind) && !outrun.has(`${u.kind}|${u.option}`));
    if (list.length === 0) break;
    const times = await run(list);
    list.forEach((u, i) => (u.best = Math.min(u.best, times[i]! / u.reps)));
    const estimates = estimatesOf(units);
    for (const kind of STEP_KINDS) {
      const sorted = Object.values(estimates[kind]).sort((a, b) => a - b);
      if (sorted.length < 2) {
        unsettled.delete(kind);
        continue;
      }
      if (round > 0) for (const [option, ms] of Object.entries(estimates[kind])) if (ms > OUTRUN * sorted[0]!) outrun.add(`${kind}|${option}`);
      if (round + 1 >= ROUNDS && sorted[1]! > sorted[0]! * (1 + CLOSE_CALL)) unsettled.delete(kind);
    }
  }
  return estimatesOf(units);
}

function estimatesOf(units: readonly Unit[]): KernelEstimates {
  const estimates: KernelEstimates = { decodeMatvec: {}, decodeAttention: {}, prefill: {} };
  for (const u of units) {
    const full = (u.best * u.fullWorkgroups) / u.workgroups;
    const byOption = estimates[u.kind];
    byOption[u.option] = (byOption[u.option] ?? 0) + u.weight * full;
  }
  return estimates;
}

/** The dispatches timed for one option of one step kind, from the sample's step list compiled for it. */
function unitsOf(kind: StepKind, option: string, steps: { body: SampleStep[]; head: SampleStep[] }, sample: ModelSample): Unit[] {
  const c = sample.model.config;
  const layers = c.numLayers;
  const names = layerParamNames(c, 0);
  const layerMatrices = [names.qkv, names.o, names.gateUp, names.down].map((n) => sample.matrices.get(n)!);
  const bytes = (m: { format: Parameters<typeof rowBytes>[0]; rows: number; cols: number }) => m.rows * rowBytes(m.format, m.cols);
  const largest = layerMatrices.reduce((a, b) => (bytes(b) > bytes(a) ? b : a));
  const layerScale = layerMatrices.reduce((n, m) => n + bytes(m), 0) / bytes(largest);
  const stepOf = (pick: (s: SampleStep) => boolean, list: SampleStep[]) => {
    const step = list.find(pick);
    if (!step) throw new Error(`kernel timing: no step for ${kind}`);
    return step;
  };
  const matrixStep = (name: string, list: SampleStep[]) => stepOf((s) => s.op.op === 'matmul' && s.op.w.name === name, list);
  const unit = (dispatch: Dispatch, shape: StepShape, weight: number, heldFraction: number): Unit => {
    const fullWorkgroups = dispatch.workgroups(shape)[0];
    return {
      kind,
      option,
      dispatch,
      shape,
      weight,
      fullWorkgroups,
      maxWorkgroups: heldFraction >= 1 ? fullWorkgroups : Math.max(1, Math.floor(fullWorkgroups * heldFraction)),
      workgroups: 1,
      reps: 1,
      best: Infinity,
    };
  };
  const matrixUnits = (name: string, list: SampleStep[], shape: StepShape, weight: number): Unit[] => {
    const m = sample.matrices.get(name)!;
    // The sample's slack rows cover a tile running past the held rows: count only the rows before it.
    const held = m.heldRows >= m.rows ? 1 : Math.max(0, m.heldRows - TILE_SLACK_ROWS) / m.rows;
    return activeDispatches([matrixStep(name, list)], shape).map((d) => unit(d, shape, weight, held));
  };
  switch (kind) {
    case 'decodeMatvec': {
      // Every matrix: small ones pay more per-dispatch cost, and options rank differently by shape.
      const one = { tokens: 1, startPos: 0 };
      const classifier = steps.head.find((s) => s.op.name === 'classifier')!;
      return [
        ...layerMatrices.flatMap((m) => matrixUnits(m.name, steps.body, one, layers)),
        ...(classifier.op.op === 'matmul' ? matrixUnits(classifier.op.w.name, steps.head, one, 1) : []),
      ];
    }
    case 'decodeAttention': {
      const attention = stepOf((s) => s.op.op === 'attention', steps.body);
      const positions = [...new Set([Math.min(63, sample.longestPosition), sample.longestPosition])];
      return positions.flatMap((startPos) => {
        const shape = { tokens: 1, startPos };
        return activeDispatches([attention], shape).map((d) => unit(d, shape, layers / positions.length, 1));
      });
    }
    case 'prefill':
      return matrixUnits(largest.name, steps.body, { tokens: sample.prefillTokens, startPos: 0 }, layers * layerScale);
  }
}
