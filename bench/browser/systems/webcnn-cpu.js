// webcnn's CPU path in the benchmark: the wasm build's Trainer export created with createCpu,
// the engine the trainer page and the npm package fall back to without WebGPU (single-threaded
// WebAssembly). It trains the same seed CNN on the same digits as the webcnn system.

import init, { Trainer, presetConfig } from '/pkg/webcnn.js';
import { fetchDigitFiles, measureSteps } from '../measure.js';

/**
 * Trains the seed CNN with Adam at its defaults, no validation split and no augmentation, one
 * Trainer.run(1) call per step. Each call returns after its step with the step's loss, so a
 * step's time includes all of its work. Resolves to the measureSteps result plus the backend.
 * @param {object} options batchSize, seed, minSteps, minSeconds, maxSteps
 */
export async function runWebcnnCpu(options) {
  await init();
  const trainer = Trainer.createCpu('the benchmark measures the CPU path');
  if (trainer.backend !== 'cpu') {
    throw new Error(`Trainer.createCpu returned a ${trainer.backend} trainer instead of cpu`);
  }
  trainer.loadData(...(await fetchDigitFiles()));
  const info = await trainer.start({
    model: presetConfig('seed-cnn'),
    optimizer: { type: 'adam' },
    train: {
      epochs: 1,
      batch_size: options.batchSize,
      validation_split: 0,
      seed: options.seed,
      shuffle: true,
    },
  });
  // The epoch's last batch can be partial, so only the ones before it are full.
  const fullBatches = info.steps_per_epoch - 1;
  if (fullBatches < 1 + options.minSteps) {
    throw new Error(
      `the training digits make ${fullBatches} full batches of ${options.batchSize}, but the run needs ` +
        `${1 + options.minSteps}: lower the batch size or minSteps`,
    );
  }
  try {
    const result = await measureSteps(() => trainStep(trainer), {
      ...options,
      maxSteps: Math.min(options.maxSteps, fullBatches - 1),
    });
    return {
      ...result,
      timing: 'median of steps that each end when Trainer.run(1) returns the loss',
      backend: trainer.backend,
      adapter: trainer.adapter,
    };
  } finally {
    trainer.stop();
  }
}

// Runs one training step and returns its loss.
async function trainStep(trainer) {
  const result = await trainer.run(1);
  if (result.kind !== 'steps' || result.batches.length !== 1) {
    throw new Error(`Trainer.run(1) returned ${result.kind} with ${result.batches?.length} batches instead of one step`);
  }
  return result.batches[0].loss;
}
