// Training worker: owns the WebGPU device (or the CPU fallback) through the wasm Trainer, and
// handles the page's requests. Training runs a few steps per Trainer.run call, and the worker
// handles messages between calls, so pause, stop and predictions work while training.
//
// Requests from the page: {id, type, ...}. Replies: {type: 'reply', id, ok, value | error}.
// Events without an id: {type: 'progress' | 'epoch' | 'finished' | 'stopped' | 'failed', ...}.

import init, { Trainer, describeModel, presetConfig } from '../pkg/webcnn.js';
import imagesUrl from '../../data/mnist-10k-images-idx3-ubyte.gz?url';
import labelsUrl from '../../data/mnist-10k-labels-idx1-ubyte.gz?url';

// Wall time one Trainer.run call aims at. On the CPU the call blocks the worker, so this bounds
// how long a message waits. On WebGPU the worker handles messages while it awaits the GPU, and
// longer calls only spend less time per step on reading the metrics back.
const TARGET_CALL_SECONDS = 0.1;
const MAX_STEPS_PER_CALL = 64;

let trainer = null;
let running = false;
let stepsPerCall = 1;
// Every call into the trainer goes through this chain: the wasm object allows one call at a time.
let chain = Promise.resolve();

function exclusive(task) {
  const result = chain.then(task);
  chain = result.catch(() => {});
  return result;
}

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

function errorText(error) {
  if (error instanceof Error) return error.message;
  return String(error);
}

async function startEngine() {
  await init();
  let gpuProblem = null;
  let adapterName = '';
  if (!self.navigator.gpu) {
    gpuProblem = 'this browser does not expose WebGPU (navigator.gpu is missing)';
  } else {
    const adapter = await self.navigator.gpu.requestAdapter().catch(() => null);
    if (!adapter) gpuProblem = 'the browser found no WebGPU adapter';
    // wgpu's WebGPU backend leaves its adapter info empty, so describe the adapter here.
    const info = adapter?.info ?? {};
    adapterName = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  }
  if (!gpuProblem) {
    try {
      trainer = await Trainer.create();
    } catch (error) {
      gpuProblem = errorText(error);
    }
  }
  if (gpuProblem) {
    trainer = Trainer.createCpu(gpuProblem);
  }

  const [images, labels] = await Promise.all([fetchBytes(imagesUrl), fetchBytes(labelsUrl)]);
  const data = trainer.loadData(images, labels);
  try {
    await trainer.warmUp(presetConfig('seed-cnn'));
  } catch (error) {
    console.warn(`compiling the GPU kernels ahead of training failed: ${errorText(error)}`);
  }
  return {
    backend: trainer.backend,
    adapter: trainer.backend === 'webgpu' ? adapterName || 'unnamed adapter' : trainer.adapter,
    fallbackReason: trainer.fallbackReason ?? null,
    data,
  };
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`loading ${url} failed: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

// Calls Trainer.run until the run ends, the page pauses it, or an error stops it.
async function trainLoop() {
  while (running) {
    const started = performance.now();
    let result;
    try {
      result = await exclusive(() => trainer.run(stepsPerCall));
    } catch (error) {
      running = false;
      console.warn(`training failed: ${errorText(error)}`);
      post({ type: 'failed', error: errorText(error) });
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    if (result.kind === 'steps') {
      const perStep = seconds / stepsPerCall;
      stepsPerCall = Math.max(1, Math.min(MAX_STEPS_PER_CALL, Math.round(TARGET_CALL_SECONDS / perStep)));
      post({ type: 'progress', progress: result.progress });
    } else if (result.kind === 'epoch') {
      post({ type: 'epoch', report: result.report });
    } else {
      running = false;
      post({ type: 'finished' });
    }
  }
}

const handlers = {
  async start() {
    return startEngine();
  },
  async describe({ config }) {
    return describeModel(config);
  },
  async preset({ name }) {
    return presetConfig(name);
  },
  async train({ settings }) {
    if (running) throw new Error('training is already running');
    const info = await exclusive(() => trainer.start(settings));
    stepsPerCall = 1;
    running = true;
    trainLoop();
    return info;
  },
  async pause() {
    running = false;
    return null;
  },
  async resume() {
    if (!trainer.hasModel) throw new Error('there is no training run to resume');
    if (!running) {
      running = true;
      trainLoop();
    }
    return null;
  },
  async stop() {
    running = false;
    await exclusive(() => trainer.stop());
    return null;
  },
  async evaluate() {
    return exclusive(() => trainer.evaluate());
  },
  async testImages({ indices }) {
    return exclusive(() => indices.map((index) => trainer.testImage(index)));
  },
  async predict({ pixels }) {
    return exclusive(() => trainer.predict(pixels));
  },
  async save() {
    return exclusive(() => trainer.save());
  },
  async load({ bytes, name }) {
    if (running) throw new Error('training is running; stop it before loading a model');
    return exclusive(() => trainer.load(bytes, name));
  },
  async inspect({ index }) {
    return exclusive(async () => ({
      image: trainer.testImage(index),
      label: trainer.testLabel(index),
      kernels: await trainer.kernels(),
      activations: await trainer.activations(index),
    }));
  },
  async bufferStats() {
    return exclusive(() => trainer.bufferStats());
  },
};

self.onmessage = async (event) => {
  const { id, type, ...args } = event.data;
  const handler = handlers[type];
  try {
    if (!handler) throw new Error(`unknown request ${type}`);
    const value = await handler(args);
    post({ type: 'reply', id, ok: true, value });
  } catch (error) {
    post({ type: 'reply', id, ok: false, error: errorText(error) });
  }
};
