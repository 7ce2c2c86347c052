// TensorFlow.js 4.22 in the benchmark: the Keras MNIST CNN built with tf.sequential, trained with
// Adam and sparse categorical cross-entropy through model.trainOnBatch on one backend.

import { loadScript } from '../measure.js';
import { trainingData } from './data.js';

const DIST = '/node_modules/@tensorflow';
const BACKEND_SCRIPTS = {
  webgpu: `${DIST}/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js`,
  wasm: `${DIST}/tfjs-backend-wasm/dist/tf-backend-wasm.min.js`,
};

/** The seed CNN (the Keras MNIST CNN) as a tfjs-layers model. */
function buildModel(tf) {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

/**
 * Starts tfjs on `backend` (webgpu, webgl, cpu or wasm) and returns a training step for the
 * measurement loop, plus a probe of the memory tfjs holds.
 * @param {string} backend
 * @param {{batchSize: number, seed: number}} options
 */
export async function tfjsTrainer(backend, { batchSize, seed }) {
  await loadScript(`${DIST}/tfjs/dist/tf.min.js`);
  if (BACKEND_SCRIPTS[backend]) await loadScript(BACKEND_SCRIPTS[backend]);
  const tf = window.tf;
  if (backend === 'wasm') tf.wasm.setWasmPaths(`${DIST}/tfjs-backend-wasm/dist/`);
  if (!(await tf.setBackend(backend))) {
    throw new Error(`tfjs could not start its ${backend} backend`);
  }
  await tf.ready();
  if (tf.getBackend() !== backend) {
    throw new Error(`tfjs runs on ${tf.getBackend()} instead of ${backend}`);
  }
  const data = await trainingData(batchSize, seed);
  const model = buildModel(tf);
  const step = async (index) => {
    const { images, labels } = data.batch(index);
    const xs = tf.tensor4d(images, [batchSize, 28, 28, 1]);
    const ys = tf.tensor2d(labels, [batchSize, 1]);
    try {
      return await model.trainOnBatch(xs, ys);
    } finally {
      tf.dispose([xs, ys]);
    }
  };
  const memory = () => {
    const info = tf.memory();
    const gpuBytes = info.numBytesAllocatedInGPU ?? info.numBytesInGPUAllocated ?? info.numBytesInGPU;
    return { gpu_bytes: gpuBytes ?? null, tensor_bytes: info.numBytes };
  };
  return { step, memory, version: tf.version.tfjs };
}
