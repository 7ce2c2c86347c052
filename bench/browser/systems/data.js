// The training digits for the JavaScript systems: the training part of the trainer page's split,
// parsed by the wasm build, served in seeded shuffled batches.

import init, { trainDigits } from '/pkg/webcnn.js';
import { batchSchedule, fetchDigitFiles } from '../measure.js';

/**
 * Loads the training digits and returns `{count, pixels, batch(index)}`: `pixels` per image,
 * and `batch` gives the pixels (NHWC, [0, 1]) and labels (as floats) of batch `index`.
 * @param {number} batchSize
 * @param {number} seed
 */
export async function trainingData(batchSize, seed) {
  await init();
  const digits = trainDigits(...(await fetchDigitFiles()));
  const pixels = digits.shape.reduce((product, side) => product * side, 1);
  const schedule = batchSchedule(digits.count, batchSize, seed);
  const batch = (index) => {
    const indices = schedule(index);
    const images = new Float32Array(batchSize * pixels);
    const labels = new Float32Array(batchSize);
    indices.forEach((example, i) => {
      images.set(digits.images.subarray(example * pixels, (example + 1) * pixels), i * pixels);
      labels[i] = digits.labels[example];
    });
    return { images, labels };
  };
  return { count: digits.count, pixels, batch };
}
