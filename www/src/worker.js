// Training worker of the trainer page: owns the WebGPU device (or the CPU fallback) through the
// wasm Trainer, loads the embedded digits, and handles the page's requests. The engine, the
// training loop and the message protocol are shared with the npm package (js/src/engine.js).
// Training runs a few steps per Trainer.run call, and the worker handles messages between
// calls, so pause, stop and predictions work while training.

import init, { Trainer, describeModel, presetConfig } from '../pkg/webcnn.js';
import imagesUrl from '../../data/mnist-10k-images-idx3-ubyte.gz?url';
import labelsUrl from '../../data/mnist-10k-labels-idx1-ubyte.gz?url';
import { TrainerDriver, errorText, fetchIdx, openTrainer, serve } from '../../js/src/engine.js';

let trainer = null;
let driver = null;

async function startEngine() {
  await init();
  // The pages' module trains on either backend.
  const engine = await openTrainer(async () => ({ Trainer }));
  trainer = engine.trainer;
  driver = new TrainerDriver(trainer);
  const [images, labels] = await Promise.all([fetchIdx(imagesUrl), fetchIdx(labelsUrl)]);
  const data = trainer.loadData(images, labels);
  try {
    await trainer.warmUp(presetConfig('seed-cnn'));
  } catch (error) {
    console.warn(`compiling the GPU kernels ahead of training failed: ${errorText(error)}`);
  }
  const { backend, adapter, fallbackReason } = engine;
  return { backend, adapter, fallbackReason, data };
}

serve({
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
    return driver.train(settings);
  },
  async pause() {
    driver.pause();
    return null;
  },
  async resume() {
    driver.resume();
    return null;
  },
  async stop() {
    await driver.stop();
    return null;
  },
  async evaluate() {
    return driver.exclusive(() => trainer.evaluate());
  },
  async testImages({ indices }) {
    return driver.exclusive(() => indices.map((index) => trainer.testImage(index)));
  },
  async predict({ pixels }) {
    return driver.exclusive(() => trainer.predict(pixels));
  },
  async save() {
    return driver.exclusive(() => trainer.save());
  },
  async load({ bytes, name }) {
    if (driver.running) throw new Error('training is running; stop it before loading a model');
    return driver.exclusive(() => trainer.load(bytes, name));
  },
  async inspect({ index }) {
    return driver.exclusive(async () => ({
      image: trainer.testImage(index),
      label: trainer.testLabel(index),
      kernels: await trainer.kernels(),
      activations: await trainer.activations(index),
    }));
  },
  async bufferStats() {
    return driver.exclusive(() => trainer.bufferStats());
  },
});
