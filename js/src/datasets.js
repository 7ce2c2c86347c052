// Datasets for fit and evaluate.

import { WorkerClient } from './client.js';
import { tensor } from './tensor.js';

/** Loads IDX image and label files (gzipped or not, as MNIST ships) from URLs. Resolves with
 * {x: [n, H, W, C] pixels in [0, 1], y: [n] labels, classes}. */
export async function loadIdx(imagesUrl, labelsUrl) {
  const base = globalThis.document?.baseURI ?? globalThis.location.href;
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  try {
    const parsed = await new WorkerClient(worker).request('parseIdx', {
      imagesUrl: new URL(imagesUrl, base).href,
      labelsUrl: new URL(labelsUrl, base).href,
    });
    const n = parsed.labels.length;
    return {
      x: tensor(parsed.images, [n, ...parsed.shape]),
      y: tensor(parsed.labels, [n]),
      classes: parsed.classes,
    };
  } finally {
    worker.terminate();
  }
}

/** Returns the examples of {x, y} at `indices`, for shuffling and splitting. */
export function take({ x, y }, indices) {
  const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const images = new Float32Array(indices.length * size);
  const labels = new y.data.constructor(indices.length);
  indices.forEach((index, i) => {
    images.set(x.data.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = y.data[index];
  });
  return { x: tensor(images, [indices.length, ...x.shape.slice(1)]), y: tensor(labels, [indices.length]) };
}

/** Returns 0..n-1 in an order shuffled by `seed` (the same order on every run). */
export function shuffledIndices(n, seed = 42) {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
