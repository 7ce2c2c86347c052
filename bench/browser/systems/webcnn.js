// webcnn in the benchmark: the wasm build's Bench export trains the seed CNN on WebGPU (the
// path the trainer page's worker uses) and measures the kernels on the same adapter.

import init, { Bench } from '/pkg/webcnn.js';
import { fetchDigitFiles, measureSteps, median } from '../measure.js';

/**
 * Trains the seed CNN with Adam: per-step times with a GPU readback after every step, then the
 * pipelined time of `pipelineSteps`-step calls with one readback each. Then measures the
 * kernels on the same device (see measureKernels). Resolves to `{training, kernels}`.
 * @param {object} options batchSize, seed, minSteps, minSeconds, maxSteps, pipelineSteps,
 *   pipelineCalls, quickKernels, kernelSeconds
 */
export async function runWebcnn(options) {
  await init();
  const [images, labels] = await fetchDigitFiles();
  const bench = await Bench.create();
  const availableSteps = bench.startTraining(images, labels, options.batchSize, options.seed);
  const pipelineTotal = options.pipelineSteps * options.pipelineCalls;
  if (availableSteps < 1 + options.minSteps + pipelineTotal) {
    throw new Error(`the digits give ${availableSteps} batches; the run needs more`);
  }
  let sample = null;
  let before = null;
  const result = await measureSteps(
    async (index) => {
      if (index === 1) before = sample;
      sample = await bench.train(1);
      return sample.loss;
    },
    { ...options, maxSteps: Math.min(options.maxSteps, availableSteps - 1 - pipelineTotal) },
  );
  const synced = perStep(before, sample);

  const chunkMs = [];
  const pipelineStart = sample;
  for (let call = 0; call < options.pipelineCalls; call++) {
    const start = performance.now();
    sample = await bench.train(options.pipelineSteps);
    chunkMs.push((performance.now() - start) / options.pipelineSteps);
  }
  const pipelined = perStep(pipelineStart, sample);
  const pipelinedMs = median(chunkMs);
  const training = {
    ...result,
    timing: 'median of steps that each end with a GPU readback (loss)',
    dispatches_per_step: synced.dispatches,
    submits_per_step: synced.submits,
    readbacks_per_step: synced.readbacks,
    pipelined_step_ms: pipelinedMs,
    pipelined_examples_per_second: (options.batchSize * 1000) / pipelinedMs,
    pipelined_steps_per_readback: options.pipelineSteps,
    pipelined_readbacks_per_step: pipelined.readbacks,
    gpu_bytes: bench.bufferStats().bytes,
  };
  return { training, kernels: await measureKernels(bench, options) };
}

// Counter increments per training step between two samples of Bench.train.
function perStep(from, to) {
  const steps = to.steps - from.steps;
  return {
    dispatches: (to.dispatches - from.dispatches) / steps,
    submits: (to.submits - from.submits) / steps,
    readbacks: (to.readbacks - from.readbacks) / steps,
  };
}

/**
 * Measures the FMA peak, conv and matmul kernels on the device that trained. Training compiled
 * the seed CNN's conv pipelines already, which changes nothing measured: each kernel's first,
 * compiling run is left out of its time. Resolves to the report, or `{error}` if it failed.
 */
async function measureKernels(bench, { quickKernels, kernelSeconds }) {
  try {
    return await bench.kernels(quickKernels, kernelSeconds);
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
