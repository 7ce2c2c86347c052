// webcnn: train convolutional networks in the browser on WebGPU (or the CPU), with an API that
// reads like Keras. Training runs in a Web Worker; inputs and outputs are typed arrays with
// shapes ({data, shape}).

import * as layers from './layers.js';

export { layers };
export { input } from './layers.js';
export { Sequential, sequential, loadModel } from './model.js';
export { tensor, toCategorical } from './tensor.js';
export * as datasets from './datasets.js';
