// ConvNetJS 0.3.0 in the benchmark: the seed CNN's layers (ConvNetJS allows exactly this
// architecture) trained one example at a time on the CPU, with Adam applied by this file to the
// gradients ConvNetJS accumulates over the batch. ConvNetJS's own Trainer has no Adam (an
// unknown method silently becomes SGD with momentum), so it is not used.

import { loadScript } from '../measure.js';
import { trainingData } from './data.js';

const ADAM = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

/** The seed CNN in ConvNetJS layer definitions. */
const LAYERS = [
  { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
  { type: 'conv', sx: 3, filters: 32, stride: 1, pad: 0, activation: 'relu' },
  { type: 'pool', sx: 2, stride: 2 },
  { type: 'conv', sx: 3, filters: 64, stride: 1, pad: 0, activation: 'relu' },
  { type: 'pool', sx: 2, stride: 2 },
  { type: 'fc', num_neurons: 64, activation: 'relu' },
  { type: 'softmax', num_classes: 10 },
];

/**
 * Adam (Kingma & Ba, 2015, the form Keras and tfjs use) over ConvNetJS's parameter and gradient
 * arrays. `update` applies one step to the gradients summed over `batchSize` examples and
 * zeroes them.
 */
function adam(paramsAndGrads, batchSize) {
  const moments = paramsAndGrads.map(({ params }) => ({
    m: new Float64Array(params.length),
    v: new Float64Array(params.length),
  }));
  let t = 0;
  return () => {
    t += 1;
    const { learningRate, beta1, beta2, epsilon } = ADAM;
    const rate = (learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    paramsAndGrads.forEach(({ params, grads }, i) => {
      const { m, v } = moments[i];
      for (let j = 0; j < params.length; j++) {
        const g = grads[j] / batchSize;
        m[j] = beta1 * m[j] + (1 - beta1) * g;
        v[j] = beta2 * v[j] + (1 - beta2) * g * g;
        params[j] -= (rate * m[j]) / (Math.sqrt(v[j]) + epsilon);
        grads[j] = 0;
      }
    });
  };
}

/**
 * Builds the network and returns a training step for the measurement loop.
 * @param {{batchSize: number, seed: number}} options
 */
export async function convnetjsTrainer({ batchSize, seed }) {
  await loadScript('/node_modules/convnetjs/build/convnet.js');
  const convnetjs = window.convnetjs;
  const net = new convnetjs.Net();
  net.makeLayers(LAYERS);
  const data = await trainingData(batchSize, seed);
  // getParamsAndGrads returns the layers' own arrays, so the list stays valid across steps.
  const update = adam(net.getParamsAndGrads(), batchSize);
  const input = new convnetjs.Vol(28, 28, 1, 0.0);
  const step = async (index) => {
    const { images, labels } = data.batch(index);
    let loss = 0;
    for (let i = 0; i < batchSize; i++) {
      input.w.set(images.subarray(i * data.pixels, (i + 1) * data.pixels));
      net.forward(input, true);
      loss += net.backward(labels[i]);
    }
    update();
    return loss / batchSize;
  };
  return { step };
}
